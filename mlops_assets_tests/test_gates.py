import pytest

from mlops_assets.retraining import gates


def report(challenger_accuracy, champion_accuracy=None, p95=0.001, min_improvement=0.0):
    return {
        "min_improvement": min_improvement,
        "challenger": {"version": "2", "accuracy": challenger_accuracy, "latency_p95_s": p95},
        "champion": (
            None
            if champion_accuracy is None
            else {"version": "1", "accuracy": champion_accuracy, "latency_p95_s": p95}
        ),
    }


def test_first_run_needs_only_value_gates():
    results = gates.evaluate(report(0.95))
    assert [r.passed for r in results] == [True, True, True]
    assert gates.decide(results) == "promote"
    assert "no champion" in results[2].reason


@pytest.mark.parametrize(
    ("accuracy", "passed"), [(0.90, False), (0.9001, True), (0.5, False), (1.0, True)]
)
def test_accuracy_gate_is_strictly_above_ninety_percent(accuracy, passed):
    assert gates.accuracy_gate(report(accuracy)).passed is passed


@pytest.mark.parametrize(("p95", "passed"), [(2.999, True), (3.0, False), (12.0, False)])
def test_latency_gate_is_strictly_under_three_seconds(p95, passed):
    assert gates.latency_gate(report(0.95, p95=p95)).passed is passed


def test_equal_accuracy_is_not_worse_by_default():
    assert gates.not_worse_gate(report(0.95, 0.95)).passed


def test_min_improvement_raises_the_bar():
    result = gates.not_worse_gate(report(0.95, 0.95, min_improvement=0.01))
    assert not result.passed
    assert result.threshold == pytest.approx(0.96)
    assert gates.decide(gates.evaluate(report(0.95, 0.95, min_improvement=0.01))) == "defended"


def test_value_gate_failure_is_a_rejection_even_if_champion_is_worse():
    results = gates.evaluate(report(0.5, 0.4))
    assert gates.decide(results) == "rejected"
    assert "0.5000 is not above" in results[0].reason
