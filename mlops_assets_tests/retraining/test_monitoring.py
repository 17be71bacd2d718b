"""The monitor's statistics and the monitor verdict on constructed windows."""

from datetime import timedelta

import numpy as np
import pandas as pd

from mlops_assets.retraining.monitor_policy import MonitorPolicy, monitor_verdict
from mlops_assets.retraining.monitoring import gather_inputs, live_accuracy, prediction_drift
from mlops_assets_tests.support.monitoring import WINDOW, constructed_report

START, END = WINDOW
POLICY = MonitorPolicy(target_accuracy=0.90, min_samples=100, cooldown=timedelta(days=7))


def test_no_drift_and_a_good_model_give_no_trigger():
    report = constructed_report(reference_month=11, window_month=12)
    assert not any(t.drifted for t in report.drift)
    assert report.accuracy.n == 150 and report.accuracy.accuracy > 0.9
    verdict = monitor_verdict(report, POLICY, None, END)
    assert not verdict.retrain and verdict.trigger is None
    assert verdict.reason.startswith("no evidence: live accuracy 0.9")
    assert "on 150 confirmed tasks" in verdict.reason and "input:mean_grey" in verdict.reason


def test_shifted_pixels_are_input_drift_and_trigger_a_run():
    report = constructed_report(reference_month=15, window_month=16)  # the new camera from month 16
    drifted = {t.name for t in report.drift if t.drifted}
    assert "input:mean_grey" in drifted
    assert "prediction:label_shares" not in drifted
    verdict = monitor_verdict(report, POLICY, None, END)
    assert verdict.retrain and verdict.trigger == "drift"
    assert verdict.run_key == "champion-monitor-drift-v3-20250501T000000"


def test_a_shifted_label_mix_is_prediction_drift_and_label_shift():
    # Label 9 is rare until month 19, common from then on.
    tests = {t.name: t for t in constructed_report(reference_month=18, window_month=19).drift}
    for name in ("prediction:label_shares", "labels:confirmed_shares"):
        assert tests[name].drifted, name
        assert tests[name].statistic > 0.2 and tests[name].p_value < 0.01


def test_a_degraded_model_is_a_performance_trigger_with_its_interval():
    report = constructed_report(reference_month=11, window_month=12, error_rate=0.2)
    a = report.accuracy
    assert a.accuracy < 0.9 and a.low < a.accuracy < a.high
    verdict = monitor_verdict(report, POLICY, None, END)
    assert verdict.trigger == "performance" and verdict.retrain
    assert verdict.run_key.startswith("champion-monitor-performance-v3-")


def test_too_few_samples_skip_with_the_numbers():
    report = constructed_report(reference_month=15, window_month=16, error_rate=0.3, window_size=40)
    verdict = monitor_verdict(report, POLICY, None, END)
    assert not verdict.retrain
    assert "accuracy below target but only 40 of 100 samples" in verdict.reason
    assert "on fewer than 100 photos" in verdict.reason


def test_cooldown_holds_back_the_same_evidence_until_it_passed():
    report = constructed_report(reference_month=11, window_month=12, error_rate=0.2)
    recent = monitor_verdict(report, POLICY, END - timedelta(days=2), END)
    assert not recent.retrain and recent.trigger == "performance"
    assert "in cooldown: last trigger 48.0 h ago, cooldown 168.0 h" in recent.reason
    later = monitor_verdict(report, POLICY, END - timedelta(days=8), END)
    assert later.retrain
    assert later.run_key == monitor_verdict(report, POLICY, None, END).run_key


def test_wilson_interval_and_empty_windows():
    estimate = live_accuracy(np.array([1] * 90 + [0] * 10), np.ones(100, int))
    assert estimate.accuracy == 0.9
    assert round(estimate.low, 3) == 0.826 and round(estimate.high, 3) == 0.945
    assert live_accuracy(np.array([]), np.array([])).accuracy is None
    empty = prediction_drift(np.array([1, 2]), np.array([], int), 0.2, 0.01)
    assert empty.statistic is None and not empty.drifted


def test_confirmed_tasks_join_the_champions_served_predictions_by_task_id():
    pixels = [np.full(64, 4, np.uint8), np.full(64, 8, np.uint8), np.full(64, 12, np.uint8)]
    confirmed = pd.DataFrame({"task_id": ["a", "b", "c"], "label": [1, 2, 3], "pixels": pixels})
    served = pd.DataFrame(
        {
            "model_version": ["3", "3", "2"],
            "task_id": ["a", None, "c"],  # c was served by another version: scored now
            "label": [1, 5, 3],
            "mean_grey": [0.25, 0.5, 0.75],
            "grey_spread": [0.0, 0.0, 0.0],
            "ink_share": [0.0, 0.0, 1.0],
        }
    )
    scored = []

    def predict(batch: np.ndarray) -> np.ndarray:
        scored.append(len(batch))
        return np.full(len(batch), 9)

    inputs = gather_inputs(predict, "3", confirmed, confirmed, confirmed, served)
    assert inputs.confirmed_predicted.tolist() == [1, 9, 9]
    assert inputs.joined_served == 1 and inputs.served_predictions == 3
    assert inputs.window_predicted.tolist() == [1, 5]  # the champion's served labels
    assert inputs.window_features["mean_grey"].tolist() == [0.25, 0.5, 0.75]
    assert scored == [2, 3]  # the two unjoined tasks, then the holdout


def test_a_later_prediction_cannot_replace_the_served_label_of_a_task_item10():
    """Issue 26, item 10: the monitor joined the last prediction per task id, so any caller
    could overwrite what was served; it joins the first one served now."""
    confirmed = pd.DataFrame({"task_id": ["a"], "label": [1], "pixels": [np.full(64, 4, np.uint8)]})
    served = pd.DataFrame(
        {
            "served_at": pd.to_datetime([20, 10], unit="s", utc=True),
            "model_version": ["3", "3"],
            "task_id": ["a", "a"],
            "label": [7, 1],  # the later row, listed first, claims the task with another label
            "mean_grey": [0.25, 0.25],
            "grey_spread": [0.0, 0.0],
            "ink_share": [0.0, 0.0],
        }
    )
    inputs = gather_inputs(
        lambda b: np.full(len(b), 9), "3", confirmed, confirmed, confirmed, served
    )
    assert inputs.confirmed_predicted.tolist() == [1]


def test_the_cooldown_ends_exactly_when_it_has_lasted_its_length():
    report = constructed_report(reference_month=11, window_month=12, error_rate=0.2)
    at_the_boundary = monitor_verdict(report, POLICY, END - POLICY.cooldown, END)
    assert at_the_boundary.retrain
    assert at_the_boundary.evidence.startswith("live accuracy 0.8")
    assert at_the_boundary.reason == f"performance: {at_the_boundary.evidence}"
    held = monitor_verdict(report, POLICY, END - timedelta(hours=36), END)
    assert held.evidence == at_the_boundary.evidence
    assert "last trigger 36.0 h ago, cooldown 168.0 h" in held.reason
    just_before = END - POLICY.cooldown + timedelta(microseconds=1)
    assert not monitor_verdict(report, POLICY, just_before, END).retrain


def test_the_evidence_thresholds_are_inclusive_where_the_readme_says_at_least():
    report = constructed_report(reference_month=11, window_month=12, error_rate=0.2)
    a = report.accuracy
    exactly = report.model_copy(update={"accuracy": a.model_copy(update={"n": POLICY.min_samples})})
    assert monitor_verdict(exactly, POLICY, None, END).trigger == "performance"
    at_target = report.model_copy(
        update={"accuracy": a.model_copy(update={"accuracy": POLICY.target_accuracy})}
    )
    verdict = monitor_verdict(at_target, POLICY, None, END)
    assert not verdict.retrain and verdict.reason.startswith("no evidence: live accuracy")
    assert verdict.evidence.startswith("live accuracy 0.900")
    drifting = constructed_report(reference_month=15, window_month=16)
    tests = [t.model_copy(update={"n_window": POLICY.min_samples}) for t in drifting.drift]
    on_the_minimum = drifting.model_copy(update={"drift": tests})
    assert monitor_verdict(on_the_minimum, POLICY, None, END).trigger == "drift"
