"""Until the graph reads its values from the fleet file, the shipped `task_photos` entry and the
code's own defaults (constants, settings, gates, checks, schedule, asset configs) must agree."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_assets import constants
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import GateResult, ModelScore, VerificationReport
from mlops_assets.graph import checks
from mlops_assets.graph.assets.monitoring import MonitorConfig
from mlops_assets.graph.assets.verification import VerificationConfig
from mlops_assets.graph.schedules import nightly_retrain_schedule_for
from mlops_assets.retraining import gates
from mlops_assets.settings import Settings

SPEC = load_fleet().model("task_photos")


def setting(name: str):
    return Settings.model_fields[name].default


def score(version: str, accuracy: float, p95: float) -> ModelScore:
    return ModelScore(
        version=version,
        run_id=None,
        accuracy=accuracy,
        per_class_accuracy={},
        confusion=[],
        load_seconds=0.0,
        latency_p50_s=p95,
        latency_p95_s=p95,
        latency_p99_s=p95,
    )


def test_names_source_trainer_and_cadence():
    assert SPEC.registry_name == constants.DEFAULT_MODEL_NAME == setting("model_name")
    assert SPEC.source.queue == TASK_CONFIRMED_QUEUE
    assert SPEC.trainer.builtin == "photo_cnn" and setting("trainer_command") == ""
    assert SPEC.trainer.timeout_s == setting("trainer_timeout_s")
    assert SPEC.cadence == nightly_retrain_schedule_for("UTC").cron_schedule
    assert SPEC.min_improvement == VerificationConfig().min_improvement


def test_gate_names_thresholds_and_order():
    assert tuple(g.name for g in SPEC.gates) == gates.GATE_NAMES
    thresholds = {g.name: g.threshold for g in SPEC.gates}
    assert thresholds[gates.ACCURACY_GATE] == constants.MIN_ACCURACY
    assert thresholds[gates.LATENCY_GATE] == constants.MAX_P95_LATENCY_S


def test_gate_severities_are_the_checks():
    report = VerificationReport(
        month="2025-01-01",
        data_version="d",
        holdout_rows=1,
        holdout_start="2025-01-01",
        min_improvement=0.0,
        challenger=score("2", 0.5, 0.1),
        champion=None,
        gates=[GateResult(name=name, passed=False, reason=name) for name in gates.GATE_NAMES],
        decision="rejected",
    )
    severities = {}
    for check in checks.GATE_CHECKS:
        result = check(report)
        severities[result.metadata["reason"].value] = result.severity.value
    assert severities == {g.name: g.severity for g in SPEC.gates}


def test_monitor_settings():
    monitor, config = SPEC.monitor, MonitorConfig()
    assert monitor.cron == setting("monitor_cron")
    assert monitor.window_days == setting("monitor_window_days") == config.window_days
    assert monitor.target_metric == "accuracy"
    assert monitor.target_value == config.target_accuracy == constants.MIN_ACCURACY
    assert monitor.input_drift_threshold == setting("monitor_input_drift_threshold")
    assert monitor.prediction_drift_threshold == setting("monitor_prediction_drift_threshold")
    assert monitor.drift_alpha == setting("monitor_drift_alpha")
    assert monitor.min_samples == setting("health_min_samples")
    assert monitor.cooldown_hours == setting("health_cooldown_hours")


@given(
    challenger=st.floats(0, 1),
    champion=st.one_of(st.none(), st.floats(0, 1)),
    p95=st.floats(0, 10),
    min_improvement=st.sampled_from([0.0, 0.005, 0.02]),
)
def test_the_spec_gates_decide_as_the_code_gates(challenger, champion, p95, min_improvement):
    champion_score = None if champion is None else score("1", champion, p95)
    expected = gates.evaluate(score("2", challenger, p95), champion_score, min_improvement)
    observed = {"accuracy": challenger, "latency_p95_s": p95}
    champion_values = {"accuracy": champion, "latency_p95_s": None if champion is None else p95}
    for gate, result in zip(SPEC.gates, expected, strict=True):
        bound = gate.bound(champion_values[gate.metric], min_improvement)
        assert gate.passes(observed[gate.metric], bound) == result.passed, (gate.name, bound)
        if result.threshold is not None:
            assert bound == pytest.approx(result.threshold)
