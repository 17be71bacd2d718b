"""The paired promotion rule: its table of cases and its answers to bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.gate_spec import GateSpec, PairedTestSpec
from mlops_assets.contracts.stage_results import GateResult
from mlops_assets.retraining.paired import compare_correctness
from mlops_assets.retraining.paired_bootstrap import paired_bootstrap
from mlops_assets.retraining.paired_decision import check_value_gates, decide, value_gates
from mlops_assets_tests.support.paired import table

SPEC = PairedTestSpec(alpha=0.05, non_inferiority_margin=0.01)
PASS = [GateResult(name="accuracy_above_minimum", passed=True, reason="ok")]
FAIL = [GateResult(name="accuracy_above_minimum", passed=False, reason="0.85 is not > 0.9")]


def on(a, b, c, d):
    return lambda: compare_correctness(*table(a, b, c, d))


@pytest.mark.parametrize(
    ("challenger", "champion", "cells", "decision", "rule"),
    [
        (PASS, None, (140, 2, 1, 7), "promoted", "no_champion"),
        (FAIL, None, (140, 2, 1, 7), "rejected", "value_gate_failed"),
        (FAIL, PASS, (130, 15, 0, 5), "rejected", "value_gate_failed"),
        (PASS, PASS, (130, 12, 1, 7), "promoted", "better"),  # p = 0.0017
        (PASS, PASS, (143, 2, 1, 4), "defended", "not_better"),  # p = 0.50
        (PASS, PASS, (140, 0, 0, 10), "defended", "not_better"),  # b = c = 0: p = 1
        # The champion fails a value gate: a non-inferior challenger replaces it.
        (PASS, FAIL, (136, 4, 0, 10), "promoted", "replaces_failing_champion"),  # p = 0.0625
        # At n = 150 a tie's interval reaches -3.1 points, beyond the 1-point margin.
        (PASS, FAIL, (140, 1, 1, 8), "defended", "inferior_to_failing_champion"),
        (PASS, FAIL, (138, 2, 0, 10), "defended", "inferior_to_failing_champion"),  # p = 0.25
        (PASS, FAIL, (130, 1, 9, 10), "defended", "inferior_to_failing_champion"),
    ],
)
def test_the_rule(challenger, champion, cells, decision, rule):
    result = decide(challenger, champion, on(*cells), SPEC)
    assert (result.decision, result.rule) == (decision, rule)
    assert result.keeps_champion == (decision != "promoted")


def test_a_failing_champion_needs_the_lower_bound_above_minus_the_margin():
    cells = (136, 4, 0, 10)  # +2.7 points, interval -0.5..+6.5 points, p = 0.0625
    low = compare_correctness(*table(*cells)).low
    assert -0.006 < low < -0.005
    assert decide(PASS, FAIL, on(*cells), SPEC).decision == "promoted"
    strict = PairedTestSpec(non_inferiority_margin=-low - 0.001)
    assert decide(PASS, FAIL, on(*cells), strict).rule == "inferior_to_failing_champion"
    assert decide(PASS, FAIL, on(*cells), PairedTestSpec(non_inferiority_margin=0.0)).rule == (
        "inferior_to_failing_champion"
    )
    tie = (140, 1, 1, 8)  # interval -3.1..+3.1 points: non-inferior within a 4-point margin
    wide = PairedTestSpec(non_inferiority_margin=0.04)
    assert decide(PASS, FAIL, on(*tie), wide).rule == "replaces_failing_champion"


def test_alpha_is_the_spec_s():
    cells = (130, 6, 1, 13)  # p = 8/128 = 0.0625
    assert decide(PASS, PASS, on(*cells), SPEC).rule == "not_better"
    assert decide(PASS, PASS, on(*cells), PairedTestSpec(alpha=0.07)).rule == "better"


def test_the_defence_gives_its_reason_in_numbers():
    result = decide(PASS, PASS, on(143, 2, 1, 4), SPEC)
    assert result.reason == (
        "not shown better than the champion: challenger +0.7 points, 95 % interval -2.7..+4.3, "
        "p = 0.50 at n = 150 (b = 2, c = 1), not below alpha = 0.05"
    )
    metadata = result.as_metadata()
    assert metadata["paired_b"] == 2 and metadata["paired_decision"] == "defended"


def test_the_comparison_is_not_computed_when_the_decision_does_not_need_it():
    def never():
        raise AssertionError("compared although the value gates decided")

    assert decide(FAIL, PASS, never, SPEC).decision == "rejected"
    assert decide(PASS, None, never, SPEC).decision == "promoted"
    assert decide([], PASS, never, SPEC).decision == "rejected"


@pytest.mark.parametrize(
    ("challenger", "champion", "message"),
    [
        ([], [], "the holdout is empty"),
        ([1, 0, 1], [1, 0], "answered 3 samples, the champion 2"),
        ([1.0, float("nan")], [1.0, 0.0], "not numbers"),
    ],
)
def test_bad_input_keeps_the_champion_with_a_reason(challenger, champion, message):
    compare = lambda: compare_correctness(np.array(challenger), np.array(champion))  # noqa: E731
    result = decide(PASS, FAIL, compare, SPEC)
    assert (result.decision, result.rule) == ("defended", "bad_input")
    assert message in result.reason and result.comparison is None


def test_a_nan_bootstrap_metric_keeps_the_champion():
    def compare():
        return paired_bootstrap(
            lambda rows, labels: float("nan"),
            lambda rows, labels: 0.9,
            np.arange(5),
            metric="tar_at_far",
            higher_is_better=True,
        )

    result = decide(PASS, PASS, compare, SPEC)
    assert result.rule == "bad_input" and "tar_at_far" in result.reason


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
@settings(max_examples=100, deadline=None)
def test_no_discordance_never_promotes_over_a_passing_champion(a, b, d):
    if a + d == 0:
        return
    assert decide(PASS, PASS, on(a, 0, 0, d), SPEC).decision == "defended"
    # And a challenger that only loses photos is never promoted over a passing champion.
    assert decide(PASS, PASS, on(a, 0, b, d), SPEC).decision == "defended"


def test_value_gates_from_the_fleet_judge_each_model():
    photos = next(m for m in load_fleet().models if m.name == "task_photos")
    gates = value_gates(photos.gates)
    assert [g.name for g in gates] == ["accuracy_above_minimum", "p95_latency_below_maximum"]
    results = check_value_gates(gates, {"accuracy": 0.88, "latency_p95_s": 0.01}, "champion")
    assert [r.passed for r in results] == [False, True]
    assert results[0].reason == "champion accuracy 0.88 is not > 0.9"
    missing = check_value_gates(gates, {"accuracy": float("nan")}, "challenger")
    assert [r.passed for r in missing] == [False, False]
    assert "not a number" in missing[0].reason and "None" in missing[1].reason


def test_a_gate_against_the_champion_is_not_a_value_gate():
    gate = GateSpec(
        name="eer_not_worse",
        metric="eer",
        comparison="<=",
        against="champion",
        tolerance=0.005,
        severity="WARN",
    )
    assert value_gates([gate]) == []
