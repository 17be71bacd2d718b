"""How a face verifier version is scored on the snapshot's identity-disjoint holdout: the figures
its gates read (named as in `contracts.gate_spec.METRICS`) and the pair counts behind them."""

import pandas as pd

from mlops_assets.ml import face_metrics
from mlops_assets.ml.face_data import face_arrays
from mlops_assets.ml.face_verifier import FaceVerifier, verify_latency


def score_verifier(
    verifier: FaceVerifier,
    holdout: pd.DataFrame,
    *,
    max_impostor_pairs: int = 500_000,
    latency_samples: int = 200,
    seed: int = 0,
) -> dict[str, float | int]:
    """Judges a verifier on holdout identities at the threshold it was fitted with.

    Champion and challenger scored with the same holdout and seed see the same impostor pairs.

    Args:
        verifier: the version under test (its threshold fitted for the spec's target_far).
        holdout: the snapshot's holdout rows (`helper_id`, `vector`).
        max_impostor_pairs: impostor pairs sampled (see `face_metrics.pair_scores`).
        latency_samples: single `verify` calls timed.
        seed: seeds the impostor draw.

    Returns:
        tar_at_far, far_at_threshold, eer, rank1_accuracy, threshold, target_far, identities,
        genuine_pairs, impostor_pairs, probes and verify_latency_p50_s / _p95_s / _p99_s.

    Raises:
        ValueError: the holdout has fewer than two identities or no identity with two vectors,
            or its vectors are not of the verifier's dimension.
    """
    vectors, identities = face_arrays(holdout)
    if len(vectors) < 2:
        raise ValueError(f"a face holdout needs at least two vectors, got {len(vectors)}")
    metrics = face_metrics.evaluate(
        verifier.embed(vectors), identities, verifier.threshold, max_impostor_pairs, seed
    )
    latency = verify_latency(verifier, vectors, samples=latency_samples)
    return {
        **metrics.as_dict(),
        "target_far": verifier.target_far,
        **{f"verify_latency_{name}_s": value for name, value in latency.items()},
    }
