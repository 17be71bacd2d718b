"""The monitor's statistics and the health verdict on constructed windows."""

from datetime import UTC, datetime, timedelta

import numpy as np

from mlops_assets.demo.source import Scenario, month_tasks
from mlops_assets.ml.photo_stats import photo_features
from mlops_assets.retraining.health import HealthPolicy, health_verdict
from mlops_assets.retraining.monitoring import (
    DriftThresholds,
    MonitorInputs,
    live_accuracy,
    monitor_report,
    prediction_drift,
)

START, END = datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)
POLICY = HealthPolicy(target_accuracy=0.90, min_samples=100, cooldown=timedelta(days=7))


def _month(month: int) -> tuple[np.ndarray, np.ndarray]:
    records = month_tasks(Scenario(), month)
    pixels = np.stack([np.frombuffer(r.pixels, np.uint8) for r in records])
    return pixels, np.array([r.label for r in records])


def _report(
    reference_month: int,
    window_month: int,
    error_rate: float = 0.03,
    window_size: int | None = None,
):
    """A champion that errs on `error_rate` of the window's tasks and predicts the reference's
    labels perfectly; the window photos come from `window_month` of the demo's stream."""
    ref_pixels, ref_labels = _month(reference_month)
    pixels, labels = _month(window_month)
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
    )
    return monitor_report("3", (START, END), inputs, DriftThresholds(), 0.90, "test")


def test_no_drift_and_a_good_model_give_no_trigger():
    report = _report(reference_month=11, window_month=12)
    assert not any(t.drifted for t in report.drift)
    assert report.accuracy.n == 150 and report.accuracy.accuracy > 0.9
    verdict = health_verdict(report, POLICY, None, END)
    assert not verdict.retrain and verdict.trigger is None
    assert verdict.reason.startswith("no evidence: live accuracy 0.9")
    assert "on 150 confirmed tasks" in verdict.reason and "input:mean_grey" in verdict.reason


def test_shifted_pixels_are_input_drift_and_trigger_a_run():
    report = _report(reference_month=15, window_month=16)  # the new camera from month 16
    drifted = {t.name for t in report.drift if t.drifted}
    assert "input:mean_grey" in drifted
    assert "prediction:label_shares" not in drifted
    verdict = health_verdict(report, POLICY, None, END)
    assert verdict.retrain and verdict.trigger == "drift"
    assert verdict.run_key == "champion-health-drift-v3-20250501T000000"


def test_a_shifted_label_mix_is_prediction_drift():
    test = _report(reference_month=18, window_month=19).drift[-1]  # '9' common from month 19
    assert test.name == "prediction:label_shares" and test.drifted
    assert test.statistic > 0.2 and test.p_value < 0.01


def test_a_degraded_model_is_a_performance_trigger_with_its_interval():
    report = _report(reference_month=11, window_month=12, error_rate=0.2)
    a = report.accuracy
    assert a.accuracy < 0.9 and a.low < a.accuracy < a.high
    verdict = health_verdict(report, POLICY, None, END)
    assert verdict.trigger == "performance" and verdict.retrain
    assert verdict.run_key.startswith("champion-health-performance-v3-")


def test_too_few_samples_skip_with_the_numbers():
    report = _report(reference_month=15, window_month=16, error_rate=0.3, window_size=40)
    verdict = health_verdict(report, POLICY, None, END)
    assert not verdict.retrain
    assert "accuracy below target but only 40 of 100 samples" in verdict.reason
    assert "on fewer than 100 photos" in verdict.reason


def test_cooldown_holds_back_the_same_evidence_until_it_passed():
    report = _report(reference_month=11, window_month=12, error_rate=0.2)
    recent = health_verdict(report, POLICY, END - timedelta(days=2), END)
    assert not recent.retrain and recent.trigger == "performance"
    assert "in cooldown: last trigger 48.0 h ago, cooldown 168.0 h" in recent.reason
    later = health_verdict(report, POLICY, END - timedelta(days=8), END)
    assert later.retrain
    assert later.run_key == health_verdict(report, POLICY, None, END).run_key


def test_wilson_interval_and_empty_windows():
    estimate = live_accuracy(np.array([1] * 90 + [0] * 10), np.ones(100, int))
    assert estimate.accuracy == 0.9
    assert round(estimate.low, 3) == 0.826 and round(estimate.high, 3) == 0.945
    assert live_accuracy(np.array([]), np.array([])).accuracy is None
    empty = prediction_drift(np.array([1, 2]), np.array([], int), 0.2, 0.01)
    assert empty.statistic is None and not empty.drifted
