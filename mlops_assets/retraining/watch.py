"""One evaluation of the serving champion on a window: the use case behind `champion_monitor`
(and the replay's evidence policy).

It loads `@champion` and takes as reference the newest month of its training snapshot: the month
it was judged on and promoted for (its photos for input drift, its predictions on them for
prediction drift). It reads the window's confirmed tasks from the training data store and the
window's served predictions from the prediction log, and computes the report. A champion that
was validated on the new camera's photos no longer sees them as drift, so a drift that a
promotion answered stops triggering runs.
"""

import tempfile
from datetime import datetime

import numpy as np
import pandas as pd

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.prediction_log import PredictionLog
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.ml.predictor import Predictor
from mlops_assets.retraining.monitoring import DriftThresholds, gather_inputs, monitor_report


def reference_month(holdout_month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the month a champion was judged on (a partition key, YYYY-MM-01)."""
    start = pd.Timestamp(holdout_month, tz="UTC")
    return start, start + pd.DateOffset(months=1)


def champion_and_reference(
    registry: RegistryClient, window_start: datetime
) -> tuple[RegisteredModel, str, tuple[pd.Timestamp, pd.Timestamp]] | None:
    """`@champion`, the month it was judged on (the window's month when the registry does not
    say) and that month's [start, end); None before the first champion."""
    champion = registry.champion()
    if champion is None:
        return None
    month = registry.holdout_month(champion.version) or f"{window_start:%Y-%m-01}"
    return champion, month, reference_month(month)


def evaluate_champion(
    registry: RegistryClient,
    store: TrainingDataStore,
    predictions: PredictionLog | None,
    window: tuple[datetime, datetime],
    thresholds: DriftThresholds,
    target_accuracy: float,
    predictors: dict[str, Predictor] | None = None,
) -> MonitorReport | None:
    """Evaluates `@champion` on the window [start, end).

    Args:
        registry: where `@champion` is.
        store: the confirmed tasks (labels are ground truth).
        predictions: the served-prediction log; None when the server records nothing.
        window: [start, end) in UTC.
        thresholds: when a drift test counts.
        target_accuracy: the accuracy the champion should keep.
        predictors: loaded models by version, reused across calls (the replay evaluates the
            same champion month after month); None loads it each time.

    Returns:
        The report, or None before the first champion.
    """
    found = champion_and_reference(registry, window[0])
    if found is None:
        return None
    champion, _, (ref_start, ref_end) = found
    start, end = window
    reference = store.snapshot(since=ref_start.to_pydatetime(), until=ref_end.to_pydatetime())
    confirmed = store.snapshot(since=start, until=end)
    served = predictions.read(start, end) if predictions is not None else pd.DataFrame()
    if served.empty:
        served = pd.DataFrame(columns=["model_version", "task_id", "label"])
    predictors = {} if predictors is None else predictors
    if champion.version not in predictors:
        with tempfile.TemporaryDirectory() as scratch:
            predictors[champion.version] = Predictor.load(
                registry.download_version(champion.version, scratch), champion.sha256
            )
    predictor = predictors[champion.version]

    def predict(pixels: np.ndarray) -> np.ndarray:
        return predictor.predict_pixels(pixels).labels

    inputs = gather_inputs(predict, champion.version, reference, reference, confirmed, served)
    return monitor_report(
        champion.version,
        (start, end),
        inputs,
        thresholds,
        target_accuracy,
        reference=f"v{champion.version} on {ref_start:%Y-%m}, the month it was judged on",
    )
