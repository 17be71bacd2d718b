"""The confirmation-risk model's synthetic data: task confirmations joined with face pairs, and
the features the upstream champions' outputs make of them.

There is no real "risky confirmation" label yet, so the join is SYNTHETIC and deterministic:
a hash of each task id picks the confirming helper's face pair (genuine: two vectors of one
helper; impostor: one vector each of two helpers) and whether the confirmed label was swapped
for a wrong one. A confirmation is risky when the face pair is an impostor's or the label is
wrong. The features are what the upstream champions say about it: the photo classifier's
probability of the confirmed label, its top probability and entropy, and the face verifier's
cosine score of the pair.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.constants import LABELS
from mlops_assets.ml.face_data import identity_share

RISK_FEATURES = ("confirmed_label_probability", "max_probability", "entropy", "face_score")
RISK_LABEL = "risky"
# Shares of the synthetic confirmations with an impostor's face pair, and with a wrong label.
IMPOSTOR_SHARE = 0.2
WRONG_LABEL_SHARE = 0.2
SYNTHETIC_NOTE = "synthetic: face pairs and wrong labels drawn by a hash of each task id"


def synthetic_confirmations(tasks: pd.DataFrame, faces: pd.DataFrame) -> pd.DataFrame:
    """Joins each task confirmation with a face pair, synthetically and deterministically.

    Args:
        tasks: task records with `task_id`, `confirmed_at`, `label`, `pixels`.
        faces: face records with `helper_id` and `vector`; helpers with two vectors or more
            give genuine pairs, and at least two such helpers are needed.

    Returns:
        One row per task: `task_id`, `confirmed_at`, `pixels`, `label` (the true one),
        `confirmed_label`, `face_first`, `face_second`, `impostor`, `wrong_label`, `risky`.

    Raises:
        ValueError: fewer than two helpers with two face vectors.
    """
    vectors = faces.groupby("helper_id")["vector"].apply(list)
    vectors = vectors[vectors.map(len) >= 2].sort_index()
    if len(vectors) < 2:
        raise ValueError(
            f"{len(vectors)} helpers with two face vectors: the synthetic join needs two"
        )
    helpers = vectors.to_list()
    ids = tasks["task_id"].astype(str).to_list()
    pick = identity_share(ids, "risk-helper")
    other = identity_share(ids, "risk-other")
    impostor = identity_share(ids, "risk-impostor") < IMPOSTOR_SHARE
    wrong = identity_share(ids, "risk-wrong-label") < WRONG_LABEL_SHARE
    shift = 1 + (identity_share(ids, "risk-shift") * (len(LABELS) - 1)).astype(int)
    first, second = [], []
    for i in range(len(ids)):
        h = int(pick[i] * len(helpers))
        own = helpers[h]
        first.append(own[0])
        if impostor[i]:
            o = (h + 1 + int(other[i] * (len(helpers) - 1))) % len(helpers)
            second.append(helpers[o][0])
        else:
            second.append(own[1 + int(other[i] * (len(own) - 1))])
    labels = tasks["label"].to_numpy(dtype=np.int64)
    confirmed = np.where(wrong, (labels + shift) % len(LABELS), labels)
    return pd.DataFrame(
        {
            "task_id": ids,
            "confirmed_at": tasks["confirmed_at"].to_numpy(),
            "pixels": tasks["pixels"].to_list(),
            "label": labels,
            "confirmed_label": confirmed,
            "face_first": first,
            "face_second": second,
            "impostor": impostor,
            "wrong_label": wrong,
            RISK_LABEL: impostor | wrong,
        }
    )


def risk_features(
    probabilities: np.ndarray, confirmed_labels: np.ndarray, face_scores: np.ndarray
) -> pd.DataFrame:
    """The features of each confirmation, named as `RISK_FEATURES`.

    Args:
        probabilities: the photo classifier's class probabilities (n, classes).
        confirmed_labels: the confirmed label of each photo (n,).
        face_scores: the face verifier's cosine score of each face pair (n,).

    Raises:
        ValueError: the arrays disagree in length, or a label is not a class.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(confirmed_labels, dtype=np.int64)
    scores = np.asarray(face_scores, dtype=np.float64)
    if p.ndim != 2 or not len(p) == len(labels) == len(scores):
        raise ValueError(
            f"probabilities {p.shape}, labels {labels.shape} and scores {scores.shape} "
            "must describe the same rows"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= p.shape[1]):
        raise ValueError(f"confirmed labels must be classes 0..{p.shape[1] - 1}")
    clipped = np.clip(p, 1e-12, 1.0)
    return pd.DataFrame(
        {
            "confirmed_label_probability": p[np.arange(len(labels)), labels],
            "max_probability": p.max(axis=1) if len(p) else np.zeros(0),
            "entropy": -(clipped * np.log(clipped)).sum(axis=1),
            "face_score": scores,
        },
        columns=list(RISK_FEATURES),
    )


def feature_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix (n, len(RISK_FEATURES)) and the 0/1 risk labels of feature rows."""
    x = frame[list(RISK_FEATURES)].to_numpy(dtype=np.float64)
    y = frame[RISK_LABEL].to_numpy(dtype=np.int64) if RISK_LABEL in frame else np.zeros(0, int)
    return x, y


@dataclass(frozen=True)
class RiskSnapshot:
    """The risk model's training data for one month: feature rows (RISK_FEATURES, `risky`,
    `task_id`, `confirmed_at`), split in time, and the upstream champion versions that made
    the features."""

    month: str
    train: pd.DataFrame
    holdout: pd.DataFrame
    data_version: str
    holdout_start: pd.Timestamp
    as_of: pd.Timestamp
    upstream_versions: dict[str, str]
    snapshot_uri: str | None = None

    def counts(self) -> dict[str, int]:
        """Rows and risky rows of each side."""
        return {
            "train_rows": len(self.train),
            "holdout_rows": len(self.holdout),
            "train_risky": int(self.train[RISK_LABEL].sum()) if len(self.train) else 0,
            "holdout_risky": int(self.holdout[RISK_LABEL].sum()) if len(self.holdout) else 0,
        }
