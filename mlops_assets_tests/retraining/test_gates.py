import pytest

from mlops_assets.contracts.stage_results import ModelScore
from mlops_assets.retraining import gates


def score(version: str, accuracy: float, p95: float = 0.001) -> ModelScore:
    return ModelScore(
        version=version,
        run_id=None,
        accuracy=accuracy,
        per_class_accuracy={},
        confusion=[],
        load_seconds=0.1,
        latency_p50_s=p95 / 2,
        latency_p95_s=p95,
        latency_p99_s=p95 * 2,
    )


def evaluate(challenger_accuracy, champion_accuracy=None, p95=0.001, min_improvement=0.0):
    champion = None if champion_accuracy is None else score("1", champion_accuracy, p95)
    return gates.evaluate(score("2", challenger_accuracy, p95), champion, min_improvement)


def test_first_run_needs_only_value_gates():
    results = evaluate(0.95)
    assert [r.passed for r in results] == [True, True, True]
    assert gates.decide(results) == "promoted"
    assert "no champion" in results[2].reason


@pytest.mark.parametrize(
    ("accuracy", "passed"), [(0.90, False), (0.9001, True), (0.5, False), (1.0, True)]
)
def test_accuracy_gate_is_strictly_above_ninety_percent(accuracy, passed):
    assert gates.accuracy_gate(score("2", accuracy)).passed is passed


@pytest.mark.parametrize(("p95", "passed"), [(2.999, True), (3.0, False), (12.0, False)])
def test_latency_gate_is_strictly_under_three_seconds(p95, passed):
    assert gates.latency_gate(score("2", 0.95, p95)).passed is passed


def test_equal_accuracy_is_not_worse_by_default():
    assert gates.not_worse_gate(score("2", 0.95), score("1", 0.95), 0.0).passed


def test_min_improvement_raises_the_bar():
    result = gates.not_worse_gate(score("2", 0.95), score("1", 0.95), 0.01)
    assert not result.passed
    assert result.threshold == pytest.approx(0.96)
    assert gates.decide(evaluate(0.95, 0.95, min_improvement=0.01)) == "defended"


def test_value_gate_failure_is_a_rejection_even_if_champion_is_worse():
    results = evaluate(0.5, 0.4)
    assert gates.decide(results) == "rejected"
    assert "0.5000 is not above" in results[0].reason


def test_decisions_use_the_one_vocabulary():
    from typing import get_args

    from mlops_assets.contracts.stage_results import Decision, Outcome

    seen = {gates.decide(evaluate(a, c)) for a, c in [(0.95, None), (0.95, 0.99), (0.5, None)]}
    assert seen == set(get_args(Decision))
    assert set(get_args(Decision)) < set(get_args(Outcome))


def test_promotion_needs_every_gate_run_and_passed():
    gates.require_promotable(evaluate(0.95, 0.94))
    with pytest.raises(gates.PromotionRefused, match="accuracy_above_minimum: challenger"):
        gates.require_promotable(evaluate(0.5, 0.4))
    with pytest.raises(gates.PromotionRefused, match="not_worse_than_champion: challenger"):
        gates.require_promotable(evaluate(0.95, 0.96))
    partial = evaluate(0.95)[:2]
    with pytest.raises(gates.PromotionRefused, match="not_worse_than_champion: did not run"):
        gates.require_promotable(partial)
    assert gates.decide(partial) == "defended"
    with pytest.raises(gates.PromotionRefused, match="did not run"):
        gates.require_promotable([])
    assert gates.decide([]) == "rejected"


def test_each_gate_reports_what_it_compared_in_words_and_numbers():
    passing = evaluate(0.97, champion_accuracy=0.95, p95=0.004, min_improvement=0.01)
    failing = evaluate(0.85, champion_accuracy=0.95, p95=4.0, min_improvement=0.01)
    expected = [
        (
            gates.ACCURACY_GATE,
            True,
            0.97,
            0.90,
            "challenger accuracy 0.9700 is above the minimum 0.90",
        ),
        (gates.LATENCY_GATE, True, 0.004, 3.0, "p95 latency 4.00 ms is under 3 s"),
        (
            gates.NOT_WORSE_GATE,
            True,
            0.97,
            0.96,
            "challenger accuracy 0.9700 reaches champion v1 0.9500 + 0.0100",
        ),
        (
            gates.ACCURACY_GATE,
            False,
            0.85,
            0.90,
            "challenger accuracy 0.8500 is not above the minimum 0.90",
        ),
        (gates.LATENCY_GATE, False, 4.0, 3.0, "p95 latency 4000.00 ms is not under 3 s"),
        (
            gates.NOT_WORSE_GATE,
            False,
            0.85,
            0.96,
            "challenger accuracy 0.8500 falls short of champion v1 0.9500 + 0.0100",
        ),
    ]
    observed = [(r.name, r.passed, r.observed, r.threshold, r.reason) for r in passing + failing]
    assert [
        o[:2] + (pytest.approx(o[2]), pytest.approx(o[3])) + o[4:] for o in observed
    ] == expected
    first = evaluate(0.95)[2]
    assert (first.passed, first.observed, first.threshold, first.reason) == (
        True,
        None,
        None,
        "no champion yet: value gates only",
    )
