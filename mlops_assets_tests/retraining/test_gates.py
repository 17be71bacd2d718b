"""The gates run on the spec: any task's metric dicts, one name per gate, severity decides."""

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.gate_spec import GateSpec
from mlops_assets.contracts.stage_results import Decision, GateResult, Outcome
from mlops_assets.retraining import gates
from mlops_assets_tests.support.fleet_files import EXAMPLE_FLEET_FILE

PHOTO = load_fleet().model("task_photos")
FACE = load_fleet(EXAMPLE_FLEET_FILE).model("face_verifier")
NAMES = [g.name for g in PHOTO.gates]


def photo(accuracy: float, p95: float = 0.001) -> dict[str, float]:
    return {"accuracy": accuracy, "latency_p95_s": p95}


def evaluate(challenger_accuracy, champion_accuracy=None, p95=0.001, min_improvement=0.0):
    champion = None if champion_accuracy is None else photo(champion_accuracy, p95)
    return gates.evaluate(PHOTO.gates, photo(challenger_accuracy, p95), champion, min_improvement)


def test_results_carry_the_spec_names_metrics_and_severities_in_order():
    results = evaluate(0.95, 0.94)
    assert [(r.name, r.metric, r.severity) for r in results] == [
        ("accuracy_above_minimum", "accuracy", "ERROR"),
        ("p95_latency_below_maximum", "latency_p95_s", "ERROR"),
        ("not_worse_than_champion", "accuracy", "WARN"),
    ]


def test_first_run_needs_only_value_gates():
    results = evaluate(0.95)
    assert [r.passed for r in results] == [True, True, True]
    assert gates.decide(results) == "promoted"
    assert results[2].reason == "no champion yet: value gates only"
    assert results[2].threshold is None


@pytest.mark.parametrize(
    ("accuracy", "passed"), [(0.90, False), (0.9001, True), (0.5, False), (1.0, True)]
)
def test_accuracy_gate_is_strictly_above_ninety_percent(accuracy, passed):
    assert evaluate(accuracy)[0].passed is passed


@pytest.mark.parametrize(("p95", "passed"), [(2.999, True), (3.0, False), (12.0, False)])
def test_latency_gate_is_strictly_under_three_seconds(p95, passed):
    assert evaluate(0.95, p95=p95)[1].passed is passed


def test_equal_accuracy_is_not_worse_without_min_improvement():
    assert evaluate(0.95, 0.95)[2].passed


def test_min_improvement_raises_the_bar():
    result = evaluate(0.95, 0.95, min_improvement=0.01)[2]
    assert not result.passed
    assert result.threshold == pytest.approx(0.96)
    assert gates.decide(evaluate(0.95, 0.95, min_improvement=0.01)) == "defended"


def test_value_gate_failure_is_a_rejection_even_if_champion_is_worse():
    results = evaluate(0.5, 0.4)
    assert gates.decide(results) == "rejected"
    assert results[0].reason == "challenger accuracy 0.5000 does not meet > the threshold 0.9"


def test_reasons_say_what_was_compared():
    passing = evaluate(0.97, champion_accuracy=0.95, p95=0.004, min_improvement=0.01)
    assert [r.reason for r in passing] == [
        "challenger accuracy 0.9700 meets > the threshold 0.9",
        "challenger latency_p95_s 0.0040 meets < the threshold 3",
        "challenger accuracy 0.9700 meets >= champion 0.9500 +0.0100 (min_improvement) = 0.9600",
    ]
    assert [(r.observed, r.threshold) for r in passing] == [
        (0.97, 0.90),
        (0.004, 3.0),
        (0.97, pytest.approx(0.96)),
    ]


def test_decisions_use_the_one_vocabulary():
    seen = {gates.decide(evaluate(a, c)) for a, c in [(0.95, None), (0.95, 0.99), (0.5, None)]}
    assert seen == set(get_args(Decision))
    assert set(get_args(Decision)) < set(get_args(Outcome))


def test_promotion_needs_every_gate_run_and_passed():
    gates.require_promotable(evaluate(0.95, 0.94), NAMES)
    with pytest.raises(gates.PromotionRefused, match="accuracy_above_minimum: challenger"):
        gates.require_promotable(evaluate(0.5, 0.4))
    with pytest.raises(gates.PromotionRefused, match="not_worse_than_champion: challenger"):
        gates.require_promotable(evaluate(0.95, 0.96))
    partial = evaluate(0.95)[:2]
    with pytest.raises(gates.PromotionRefused, match="not_worse_than_champion: did not run"):
        gates.require_promotable(partial, NAMES)
    # A gate that did not run counts as a failed value gate.
    assert gates.decide(partial, NAMES) == "rejected"
    with pytest.raises(gates.PromotionRefused, match="no gate ran"):
        gates.require_promotable([])
    assert gates.decide([]) == "rejected"


def test_a_metric_the_challenger_did_not_report_fails_its_gate():
    (result,) = gates.evaluate(PHOTO.gates[:1], {"latency_p95_s": 0.1}, None, 0.0)
    assert not result.passed and "reported no accuracy" in result.reason
    assert gates.decide([result]) == "rejected"


def test_the_face_verifier_gates_run_on_verification_metrics():
    champion = {"tar_at_far": 0.95, "eer": 0.030, "verify_latency_p95_s": 0.01}
    better = {"tar_at_far": 0.96, "eer": 0.033, "verify_latency_p95_s": 0.01}
    results = gates.evaluate(FACE.gates, better, champion, FACE.min_improvement)
    # EER may be up to the tolerance (0.005) worse than the champion's.
    assert [r.passed for r in results] == [True, True, True]
    assert results[1].threshold == pytest.approx(0.035)
    worse_eer = {**better, "eer": 0.040}
    assert gates.decide(gates.evaluate(FACE.gates, worse_eer, champion, 0.0)) == "defended"
    low_tar = {**better, "tar_at_far": 0.80}
    assert gates.decide(gates.evaluate(FACE.gates, low_tar, champion, 0.0)) == "rejected"


@given(
    challenger=st.floats(0, 1),
    champion=st.one_of(st.none(), st.floats(0, 1)),
    p95=st.floats(0, 10),
    min_improvement=st.sampled_from([0.0, 0.005, 0.02]),
)
def test_decide_follows_severity(challenger, champion, p95, min_improvement):
    results = evaluate(challenger, champion, p95, min_improvement)
    errors = [r for r in results if r.severity == "ERROR" and not r.passed]
    warnings = [r for r in results if r.severity == "WARN" and not r.passed]
    expected = "rejected" if errors else "defended" if warnings else "promoted"
    assert gates.decide(results) == expected
    for gate, result in zip(PHOTO.gates, results, strict=True):
        assert isinstance(gate, GateSpec) and isinstance(result, GateResult)
        assert result.name == gate.name
