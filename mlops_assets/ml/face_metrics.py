"""How a face verifier is judged: identity-disjoint splits, genuine and impostor pairs, TAR at a
fixed FAR with a threshold fitted elsewhere, EER and rank-1 identification."""

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_curve


@dataclass(frozen=True)
class FaceVerificationMetrics:
    """A verifier on a holdout of identities it never saw.

    Metric names are the model spec's (`contracts.model_spec.METRICS`).
    """

    tar_at_far: float  # genuine pairs matched at the threshold fitted on validation identities
    far_at_threshold: float  # the false-accept rate that threshold gives on this holdout
    eer: float
    rank1_accuracy: float
    threshold: float
    identities: int
    genuine_pairs: int
    impostor_pairs: int
    probes: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def identity_disjoint_split(
    identities: np.ndarray, holdout_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Splits rows by identity, so no identity has rows on both sides.

    Args:
        identities: each row's identity.
        holdout_fraction: share of the identities held out (at least one, never all).
        seed: seeds which identities are held out.

    Returns:
        `(kept, held_out)` boolean row masks.

    Raises:
        ValueError: fewer than two identities.
    """
    labels = np.unique(identities)
    if len(labels) < 2:
        raise ValueError("an identity-disjoint split needs at least two identities")
    count = min(len(labels) - 1, max(1, round(holdout_fraction * len(labels))))
    held = np.random.default_rng(seed).choice(labels, size=count, replace=False)
    held_out = np.isin(identities, held)
    return ~held_out, held_out


def pair_scores(
    embedded: np.ndarray, identities: np.ndarray, max_impostor_pairs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of every genuine pair and of impostor pairs.

    Args:
        embedded: L2-normalised embeddings, one a row.
        identities: each row's identity.
        max_impostor_pairs: when there are more impostor pairs, this many are drawn uniformly
            (with replacement, seeded); otherwise every one is scored.
        seed: seeds the draw.

    Returns:
        `(genuine, impostor)` score arrays.
    """
    order = np.argsort(identities, kind="stable")
    e, ids = embedded[order], np.asarray(identities)[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    genuine = [
        (e[s:t] @ e[s:t].T)[np.triu_indices(t - s, 1)] for s, t in zip(starts, ends, strict=True)
    ]
    sizes = ends - starts
    impostor_total = (len(ids) ** 2 - int((sizes**2).sum())) // 2
    if impostor_total <= max_impostor_pairs:
        first, second = np.triu_indices(len(ids), 1)
        different = ids[first] != ids[second]
        first, second = first[different], second[different]
    else:
        first, second = _draw_impostors(ids, max_impostor_pairs, seed)
    impostor = np.einsum("ij,ij->i", e[first], e[second])
    return np.concatenate(genuine or [np.zeros(0)]), impostor


def _draw_impostors(ids: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first, second = np.zeros(0, np.int64), np.zeros(0, np.int64)
    while len(first) < count:
        a, b = rng.integers(0, len(ids), size=(2, count))
        keep = ids[a] != ids[b]
        first, second = np.r_[first, a[keep]], np.r_[second, b[keep]]
    return first[:count], second[:count]


def threshold_at_far(impostor: np.ndarray, target_far: float) -> float:
    """The lowest cosine threshold at which at most `target_far` of impostor pairs match.

    Raises:
        ValueError: no impostor scores, or a rate outside (0, 1).
    """
    if len(impostor) == 0 or not 0 < target_far < 1:
        raise ValueError(
            f"need impostor scores and 0 < FAR < 1 (got {len(impostor)}, {target_far})"
        )
    descending = np.sort(impostor)[::-1]
    allowed = int(np.floor(target_far * len(descending)))
    return float(np.nextafter(descending[allowed], np.inf))


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """The rate at which false accepts and false rejects are equal (ROC crossing)."""
    labels = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    fpr, tpr, _ = roc_curve(labels, np.r_[genuine, impostor])
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def rank1_accuracy(embedded: np.ndarray, identities: np.ndarray) -> tuple[float, int]:
    """Identification: each identity's first row is its gallery entry, every other row a probe.

    Returns:
        The share of probes whose most similar gallery entry is their own identity, and the
        number of probes.
    """
    labels, first = np.unique(identities, return_index=True)
    probe = np.ones(len(identities), bool)
    probe[first] = False
    if not probe.any():
        return float("nan"), 0
    nearest = np.argmax(embedded[probe] @ embedded[first].T, axis=1)
    return float(np.mean(labels[nearest] == identities[probe])), int(probe.sum())


def evaluate(
    embedded: np.ndarray,
    identities: np.ndarray,
    threshold: float,
    max_impostor_pairs: int = 500_000,
    seed: int = 0,
) -> FaceVerificationMetrics:
    """Judges embeddings of holdout identities at a threshold fitted elsewhere.

    Args:
        embedded: the verifier's L2-normalised embeddings of the holdout vectors.
        identities: each row's identity (none seen in training or validation).
        threshold: the verifier's threshold, applied unchanged.
        max_impostor_pairs: see `pair_scores`.
        seed: seeds the impostor draw.

    Returns:
        TAR at the threshold, the FAR it gives here, EER, rank-1 and the pair counts.
    """
    identities = np.asarray(identities)
    genuine, impostor = pair_scores(embedded, identities, max_impostor_pairs, seed)
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("the holdout needs two identities and one with two vectors")
    rank1, probes = rank1_accuracy(embedded, identities)
    return FaceVerificationMetrics(
        tar_at_far=float(np.mean(genuine >= threshold)),
        far_at_threshold=float(np.mean(impostor >= threshold)),
        eer=equal_error_rate(genuine, impostor),
        rank1_accuracy=rank1,
        threshold=threshold,
        identities=len(np.unique(identities)),
        genuine_pairs=len(genuine),
        impostor_pairs=len(impostor),
        probes=probes,
    )
