"""The spec's gates with the champion-relative one decided by the paired rule."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.contracts.gate_spec import GateSpec, PairedTestSpec
from mlops_assets.retraining import change_gate, gates
from mlops_assets_tests.support.paired import table

GATES = [
    GateSpec(
        name="accuracy_gate", metric="accuracy", comparison=">", threshold=0.9, severity="ERROR"
    ),
    GateSpec(
        name="latency_gate", metric="latency_p95_s", comparison="<", threshold=3.0, severity="ERROR"
    ),
    GateSpec(
        name="champion_gate",
        metric="accuracy",
        comparison=">=",
        against="champion",
        severity="WARN",
    ),
]
SPEC = PairedTestSpec()


def metrics(correct) -> dict[str, float]:
    correct = np.asarray(correct, dtype=float)
    return {
        "accuracy": float(correct.mean()) if len(correct) else float("nan"),
        "latency_p95_s": 0.01,
    }


def judge(challenger, champion, rule="paired", min_improvement=0.005):
    outcome = change_gate.evaluate(
        GATES,
        metrics(challenger),
        None if champion is None else metrics(champion),
        change_gate.correctness_comparer(challenger, champion, SPEC.alpha)
        if champion is not None
        else (lambda metric: None),
        SPEC,
        min_improvement,
        rule,
    )
    return outcome, gates.decide(outcome.gates)


def champion_gate(outcome):
    return next(g for g in outcome.gates if g.name == "champion_gate")


def test_no_champion_promotes_on_value_gates():
    outcome, decision = judge(*table(140, 0, 0, 10)[:1], None)
    assert decision == "promoted" and outcome.paired is None
    assert champion_gate(outcome).reason == "no champion yet: value gates only"


def test_a_significantly_better_challenger_is_promoted_with_its_numbers():
    outcome, decision = judge(*table(130, 12, 1, 7))  # p = 0.0017
    assert decision == "promoted"
    paired = outcome.paired
    assert (paired.method, paired.n, paired.b, paired.c, paired.rule) == (
        "mcnemar_exact",
        150,
        12,
        1,
        "better",
    )
    assert paired.p_value == pytest.approx(0.0017, abs=1e-4)
    assert paired.difference == pytest.approx(11 / 150)
    assert paired.low < paired.difference < paired.high
    gate = champion_gate(outcome)
    assert gate.passed and (gate.observed, gate.threshold) == (paired.p_value, 0.05)
    assert "b = 12, c = 1" in gate.reason and "n = 150" in gate.reason
    assert "smallest detectable accuracy difference" in paired.power
    metadata = paired.as_metadata()
    assert metadata["paired_b"] == 12 and metadata["paired_n"] == 150


def test_one_photo_out_of_150_defends_with_the_reason_in_numbers():
    # The demo's 2025-02 case: 98.7 % vs 98.0 % is one more photo right out of 150.
    outcome, decision = judge(*table(146, 2, 1, 1))
    assert decision == "defended"
    gate = champion_gate(outcome)
    assert not gate.passed and gate.severity == "WARN"
    assert gate.reason.startswith(
        "not shown better than the champion: challenger +0.7 points, 95 % interval "
    )
    assert "p = 0.50 at n = 150 (b = 2, c = 1)" in gate.reason
    # The old rule promotes the same pair of models.
    old, old_decision = judge(*table(146, 2, 1, 1), rule="min_improvement")
    assert old_decision == "promoted" and champion_gate(old).passed
    assert old.paired.rule == "not_better" and old.paired.change_rule == "min_improvement"


def test_a_failing_champion_is_replaced_by_a_non_inferior_challenger():
    # Champion 88 % (fails the 0.90 value gate); challenger 90.7 %: p = 0.0625, not better,
    # but its interval's lower bound (-0.5 points) is above -1 point.
    outcome, decision = judge(*table(132, 4, 0, 14))
    assert decision == "promoted"
    assert outcome.paired.rule == "replaces_failing_champion"
    assert "champion fails accuracy_gate" in champion_gate(outcome).reason


def test_the_latency_gate_against_the_champion_keeps_the_value_comparison():
    latency = GateSpec(
        name="latency_vs_champion",
        metric="latency_p95_s",
        comparison="<=",
        against="champion",
        tolerance=0.1,
        severity="WARN",
    )
    outcome = change_gate.evaluate(
        [latency],
        {"latency_p95_s": 0.2},
        {"latency_p95_s": 0.15},
        change_gate.correctness_comparer([True], [True], 0.05),
        SPEC,
        0.0,
    )
    assert outcome.gates[0].passed and outcome.paired is None


@pytest.mark.parametrize(
    ("challenger", "champion", "message"),
    [
        ([], [], "the holdout is empty"),
        ([True] * 150, [True] * 149, "the challenger answered 150 samples, the champion 149"),
        ([1.0] * 149 + [math.nan], [1.0] * 150, "not numbers"),
    ],
)
def test_bad_input_fails_the_gate_and_keeps_the_champion(challenger, champion, message):
    outcome, decision = judge(challenger, champion)
    assert decision in ("defended", "rejected")
    gate = champion_gate(outcome)
    assert not gate.passed and message in gate.reason and "champion kept" in gate.reason
    assert outcome.paired is None


counts = st.integers(0, 60)


@settings(max_examples=60, deadline=None)
@given(counts, counts, counts, counts)
def test_swapping_the_models_mirrors_the_comparison(a, b, c, d):
    if a + b + c + d == 0:
        return
    challenger, champion = table(a, b, c, d)
    forward, _ = judge(challenger, champion)
    backward, _ = judge(champion, challenger)
    f, r = forward.paired, backward.paired
    assert 0.0 <= f.p_value <= 1.0 and 0.0 <= r.p_value <= 1.0
    assert (f.b, f.c) == (r.c, r.b)
    assert f.difference == pytest.approx(-r.difference)
    assert (f.low, f.high) == pytest.approx((-r.high, -r.low))
    # At most one direction is significantly better.
    assert not (f.p_value < 0.05 and r.p_value < 0.05)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.integers(0, 200))
def test_no_discordant_pair_gives_p_one_and_a_defence(right, wrong):
    challenger, champion = table(right, 0, 0, wrong)
    outcome, decision = judge(challenger, champion)
    assert outcome.paired.p_value == 1.0 and (outcome.paired.b, outcome.paired.c) == (0, 0)
    # Equal models never promote: a defence, or a rejection when both fail a value gate.
    assert decision == ("defended" if right / (right + wrong) > 0.9 else "rejected")
    if decision == "defended":
        assert outcome.paired.rule == "not_better" and not champion_gate(outcome).passed
