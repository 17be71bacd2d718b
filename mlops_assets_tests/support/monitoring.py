"""Monitor reports on constructed windows: the demo's months, a champion with a set error rate."""

from datetime import UTC, datetime

import numpy as np

from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.demo.source import Scenario, month_tasks
from mlops_assets.demo.spec import drift_thresholds
from mlops_assets.ml.photo_stats import photo_features
from mlops_assets.retraining.monitoring import MonitorInputs, monitor_report

WINDOW = (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC))


def month_arrays(month: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey levels (n, 64) and labels of one month of the demo's stream."""
    records = month_tasks(Scenario(), month)
    pixels = np.stack([np.frombuffer(r.pixels, np.uint8) for r in records])
    return pixels, np.array([r.label for r in records])


def constructed_report(
    reference_month: int,
    window_month: int,
    error_rate: float = 0.03,
    window_size: int | None = None,
    version: str = "3",
) -> MonitorReport:
    """A champion that errs on `error_rate` of the window's tasks and predicts the reference's
    labels perfectly; the window's photos come from `window_month` of the demo's stream."""
    ref_pixels, ref_labels = month_arrays(reference_month)
    pixels, labels = month_arrays(window_month)
    pixels, labels = pixels[:window_size], labels[:window_size]
    rng = np.random.default_rng(0)
    predicted = labels.copy()
    wrong = rng.random(len(labels)) < error_rate
    predicted[wrong] = (labels[wrong] + 1) % 10
    inputs = MonitorInputs(
        reference_features=photo_features(ref_pixels),
        window_features=photo_features(pixels),
        reference_predicted=ref_labels,
        window_predicted=predicted,
        confirmed_predicted=predicted,
        confirmed_labels=labels,
        reference_labels=ref_labels,
    )
    return monitor_report(version, WINDOW, inputs, drift_thresholds(), 0.90, "constructed")
