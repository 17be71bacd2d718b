"""One evaluation of a serving face verifier champion on a window: the use case behind a
verification model's `champion_monitor`.

The outcomes are confirmed: every face vector the Auth service registered names its helper, so
each pair of the window's vectors is known to be genuine (one helper) or impostor (two). The
champion embeds them and is judged at the threshold it serves with: TAR on the genuine pairs,
FAR on the impostor pairs. Its score distributions are compared (Kolmogorov-Smirnov) with those
on the month it was judged on and promoted for, so a camera that moves the scores shows as
drift before the TAR falls below target.
"""

import tempfile
from datetime import datetime

import numpy as np
import pandas as pd

from mlops_assets.backends import face_logged_model
from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.monitoring import FaceMonitorReport, ScoreSummary
from mlops_assets.ml.face_data import face_arrays
from mlops_assets.ml.face_metrics import pair_scores
from mlops_assets.ml.face_verifier import FaceVerifier
from mlops_assets.retraining.monitoring import DriftThresholds, ks_drift
from mlops_assets.retraining.watch import champion_and_reference

# Impostor pairs grow with the square of the window's vectors: beyond this many, a seeded draw.
MAX_IMPOSTOR_PAIRS = 100_000


def summarise(scores: np.ndarray) -> ScoreSummary:
    """Count, mean and the 5th, 50th and 95th percentiles of a score sample."""
    if len(scores) == 0:
        return ScoreSummary(n=0, mean=None, p05=None, p50=None, p95=None)
    p05, p50, p95 = (float(q) for q in np.quantile(scores, [0.05, 0.5, 0.95]))
    return ScoreSummary(n=len(scores), mean=float(np.mean(scores)), p05=p05, p50=p50, p95=p95)


def window_scores(verifier: FaceVerifier, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The verifier's genuine and impostor scores on every pair of `frame`'s face vectors."""
    vectors, identities = face_arrays(frame)
    if len(vectors) < 2:
        return np.zeros(0), np.zeros(0)
    return pair_scores(verifier.embed(vectors), identities, MAX_IMPOSTOR_PAIRS, seed=0)


def _share(scores: np.ndarray, threshold: float) -> float | None:
    return float(np.mean(scores >= threshold)) if len(scores) else None


def face_monitor_report(
    verifier: FaceVerifier,
    version: str,
    window: tuple[datetime, datetime],
    window_frame: pd.DataFrame,
    reference_frame: pd.DataFrame,
    reference: str,
    thresholds: DriftThresholds,
    target_tar: float,
) -> FaceMonitorReport:
    """Judges a verifier on the faces registered in a window against a reference sample.

    Args:
        verifier: the champion, at the threshold it serves with.
        version: its registry version.
        window: [start, end) in UTC.
        window_frame: the face vectors registered in the window (`helper_id`, `vector`).
        reference_frame: the face vectors it was judged on.
        reference: what the reference is, for a person.
        thresholds: when a score drift counts (`prediction_distance`, `alpha`).
        target_tar: the TAR the champion should keep.
    """
    genuine, impostor = window_scores(verifier, window_frame)
    ref_genuine, ref_impostor = window_scores(verifier, reference_frame)
    limit, alpha = thresholds.prediction_distance, thresholds.alpha
    return FaceMonitorReport(
        champion_version=version,
        window_start=window[0],
        window_end=window[1],
        vectors=len(window_frame),
        identities=int(window_frame["helper_id"].nunique()) if len(window_frame) else 0,
        threshold=verifier.threshold,
        tar=_share(genuine, verifier.threshold),
        far=_share(impostor, verifier.threshold),
        target_tar=target_tar,
        genuine=summarise(genuine),
        impostor=summarise(impostor),
        drift=[
            ks_drift("scores:genuine", ref_genuine, genuine, limit, alpha),
            ks_drift("scores:impostor", ref_impostor, impostor, limit, alpha),
        ],
        reference=reference,
    )


def evaluate_face_champion(
    registry: RegistryClient,
    store: TrainingDataStore,
    window: tuple[datetime, datetime],
    thresholds: DriftThresholds,
    target_tar: float,
) -> FaceMonitorReport | None:
    """Evaluates the verifier holding `@champion` on the faces registered in [start, end).

    Returns:
        The report, or None before the first champion.
    """
    found = champion_and_reference(registry, window[0])
    if found is None:
        return None
    champion, month, (ref_start, ref_end) = found
    start, end = window
    with tempfile.TemporaryDirectory() as scratch:
        folder = registry.download_version_folder(champion.version, scratch)
        verifier = face_logged_model.load_face_verifier(folder, champion.sha256)
    return face_monitor_report(
        verifier,
        champion.version,
        window,
        store.face_vectors(since=start, until=end),
        store.face_vectors(since=ref_start.to_pydatetime(), until=ref_end.to_pydatetime()),
        f"faces registered in {month[:7]}, the month v{champion.version} was judged on",
        thresholds,
        target_tar,
    )
