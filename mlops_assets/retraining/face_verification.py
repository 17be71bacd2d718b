"""The face verifier's verification stage, without the gates: each registered version scored on
the snapshot's identity-disjoint holdout, and the report that carries the scores, the gate
results and the decision (the generic gates judge `VerifierScore.metrics`)."""

import tempfile

import numpy as np

from mlops_assets.backends.face_logged_model import load_face_verifier
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.contracts.stage_results import (
    Decision,
    FaceVerificationReport,
    GateResult,
    PairedSummary,
    VerifierScore,
)
from mlops_assets.ml.face_data import FaceSnapshot, face_arrays
from mlops_assets.ml.face_scoring import score_verifier

# Each scored version's embeddings of the holdout rows and its threshold, by version: the
# paired bootstrap compares two versions on the same rows without embedding them again.
Embeddings = dict[str, tuple[np.ndarray, float]]


def score_face_version(
    registry: RegistryClient,
    model: RegisteredModel,
    snapshot: FaceSnapshot,
    latency_samples: int = 200,
    embedded: Embeddings | None = None,
) -> VerifierScore:
    """Downloads a registered face verifier, checks its hash, scores it on the holdout.

    Champion and challenger scored on one snapshot see the same pairs (the same seed). With
    `embedded`, the version's holdout embeddings and threshold are kept there for the paired
    bootstrap.

    Raises:
        VerifierIntegrityError: the downloaded file is not the registered one.
        ValueError: the holdout cannot be scored (`score_verifier`).
    """
    with tempfile.TemporaryDirectory(prefix="face-verifier-") as scratch:
        folder = registry.download_version_folder(model.version, scratch)
        verifier = load_face_verifier(folder, model.sha256)
    figures = score_verifier(verifier, snapshot.holdout, latency_samples=latency_samples)
    if embedded is not None:
        vectors = face_arrays(snapshot.holdout)[0]
        embedded[model.version] = (verifier.embed(vectors), verifier.threshold)
    return VerifierScore(version=model.version, run_id=model.run_id, **figures)


def face_report(
    snapshot: FaceSnapshot,
    challenger: VerifierScore,
    champion: VerifierScore | None,
    gates: list[GateResult],
    decision: Decision,
    min_improvement: float,
    paired: PairedSummary | None = None,
) -> FaceVerificationReport:
    """The face verifier's verification report for the snapshot's month."""
    return FaceVerificationReport(
        month=snapshot.month,
        data_version=snapshot.data_version,
        holdout_rows=len(snapshot.holdout),
        holdout_identities=snapshot.holdout["helper_id"].nunique(),
        holdout_start=snapshot.holdout_start.isoformat(),
        min_improvement=min_improvement,
        challenger=challenger,
        champion=champion,
        gates=gates,
        decision=decision,
        paired=paired,
    )


def holdout_metrics(score: VerifierScore) -> dict[str, float]:
    """The figures logged to MLflow against the holdout dataset (`log_holdout_metrics`)."""
    return {
        "holdout_tar_at_far": score.tar_at_far,
        "holdout_far_at_threshold": score.far_at_threshold,
        "holdout_eer": score.eer,
        "holdout_rank1_accuracy": score.rank1_accuracy,
        "verify_latency_p95_s": score.verify_latency_p95_s,
    }
