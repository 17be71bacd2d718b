"""The confirmation-risk model's verification stage, without the gates: a registered version
scored on the snapshot's newest-month holdout, as a classification `ModelScore` (accuracy,
per-row correctness for the paired McNemar test, latency), so the photo classifier's gates,
change rule and report apply unchanged."""

import tempfile
import time

import numpy as np

from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.backends.risk_model_contract import load_risk_model
from mlops_assets.contracts.stage_results import ModelScore
from mlops_assets.ml.risk_data import RiskSnapshot, feature_arrays


def score_risk_version(
    registry: RegistryClient,
    model: RegisteredModel,
    snapshot: RiskSnapshot,
    latency_samples: int = 200,
) -> ModelScore:
    """Downloads a registered risk model, checks its hash, scores it on the holdout.

    Raises:
        RiskModelIntegrityError: the downloaded file is not the registered one.
        ValueError: the holdout is empty.
    """
    x, y = feature_arrays(snapshot.holdout)
    if len(y) == 0:
        raise ValueError(f"snapshot {snapshot.data_version} has no holdout rows to score")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="risk-model-") as scratch:
        folder = registry.download_version_folder(model.version, scratch)
        risk_model = load_risk_model(folder, model.sha256)
    load_seconds = time.perf_counter() - started
    predicted = risk_model.predict(x).astype(np.int64)
    correct = predicted == y
    confusion = np.zeros((2, 2), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    per_class = {
        str(c): (float(correct[y == c].mean()) if (y == c).any() else None) for c in (0, 1)
    }
    timings = []
    for i in range(latency_samples):
        tick = time.perf_counter()
        risk_model.probabilities(x[i % len(x)][None])
        timings.append(time.perf_counter() - tick)
    p50, p95, p99 = np.percentile(timings, [50, 95, 99]) if timings else (0.0, 0.0, 0.0)
    return ModelScore(
        version=model.version,
        run_id=model.run_id,
        accuracy=float(correct.mean()),
        per_class_accuracy=per_class,
        confusion=confusion.tolist(),
        load_seconds=load_seconds,
        latency_p50_s=float(p50),
        latency_p95_s=float(p95),
        latency_p99_s=float(p99),
        correct=correct.tolist(),
    )
