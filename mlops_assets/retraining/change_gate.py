"""The spec's gates with the champion-relative gate decided by the paired rule.

Value gates (against a threshold) compare the challenger with their bound, as
`retraining.gates.evaluate_gate` does. A gate against the champion becomes the paired
decision (`paired_decision.judge_change`): it passes when there is no champion, when the
challenger is better with p < alpha, or when the champion itself fails a value gate and the
challenger is non-inferior. `gates.decide` then names the month's decision from the results,
so the rule, the checks and `champion_model`'s `require_promotable` all read the same verdicts.

`change_rule="min_improvement"` keeps the previous rule (the challenger must reach the
champion's value plus min_improvement); the paired numbers are reported either way.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mlops_assets.contracts.gate_spec import GateSpec, PairedTestSpec
from mlops_assets.contracts.stage_results import GateResult, PairedSummary
from mlops_assets.retraining import gates
from mlops_assets.retraining.paired import McNemarComparison, compare_correctness
from mlops_assets.retraining.paired_decision import (
    ChangeVerdict,
    PairedComparison,
    check_value_gates,
    judge_change,
    value_gates,
)

ChangeRule = Literal["paired", "min_improvement"]

# A metric's paired comparison on the holdout, or None when the metric has none (latency):
# its gate against the champion keeps the value comparison.
Comparer = Callable[[str], Callable[[], PairedComparison] | None]


@dataclass(frozen=True)
class ChangeOutcome:
    """Every gate's result, and the paired comparison behind the champion-relative one."""

    gates: list[GateResult]
    paired: PairedSummary | None


def correctness_comparer(
    challenger: Sequence[bool], champion: Sequence[bool], alpha: float
) -> Comparer:
    """Compares per-row correctness with McNemar's exact test, for the accuracy metric."""

    def comparer(metric: str) -> Callable[[], PairedComparison] | None:
        if metric != "accuracy":
            return None
        return lambda: compare_correctness(
            np.asarray(challenger), np.asarray(champion), alpha=alpha
        )

    return comparer


def power_statement(comparison: PairedComparison, metric: str, alpha: float) -> str:
    """The smallest difference this holdout detects at alpha with 80 % power, in words."""
    unit = "rows" if isinstance(comparison, McNemarComparison) else "groups"
    at = f"n = {comparison.n} {unit}, alpha = {alpha:g}, 80 % power"
    if comparison.minimum_detectable is None:
        return (
            f"this holdout cannot show any {metric} difference ({at}): too few samples on "
            "which the two models disagree"
        )
    return (
        f"smallest detectable {metric} difference {comparison.minimum_detectable * 100:.1f} "
        f"points ({at})"
    )


def summarize(
    verdict: ChangeVerdict, metric: str, alpha: float, change_rule: ChangeRule
) -> PairedSummary | None:
    """The report's paired summary of a verdict that read a comparison (else None)."""
    c = verdict.comparison
    if c is None:
        return None
    mcnemar = isinstance(c, McNemarComparison)
    return PairedSummary(
        method="mcnemar_exact" if mcnemar else "paired_bootstrap",
        metric=metric,
        n=c.n,
        b=c.b if mcnemar else None,
        c=c.c if mcnemar else None,
        difference=c.difference,
        low=c.low,
        high=c.high,
        confidence=c.confidence,
        p_value=c.p_value,
        alpha=alpha,
        minimum_detectable=c.minimum_detectable,
        rule=verdict.rule,
        change_rule=change_rule,
        reason=verdict.reason,
        power=power_statement(c, metric, alpha),
    )


def evaluate(
    specs: Sequence[GateSpec],
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    comparer: Comparer,
    paired: PairedTestSpec,
    min_improvement: float,
    change_rule: ChangeRule = "paired",
) -> ChangeOutcome:
    """Runs every gate of a model spec, the champion-relative ones by `change_rule`.

    Never raises on bad holdout input: a comparison that cannot be made fails its gate with
    the reason, which keeps the champion.

    Args:
        specs: the model's gates (`ModelSpec.gates`), in order.
        challenger: the challenger's metrics on the holdout.
        champion: the champion's metrics on the same holdout; None without a champion.
        comparer: the paired comparison of a metric (`Comparer`).
        paired: alpha, margin (the spec's `paired_test`).
        min_improvement: the previous rule's margin over the champion.
        change_rule: `paired` (the default) or `min_improvement` (the previous rule).
    """
    champion_gates = (
        None if champion is None else check_value_gates(value_gates(specs), champion, "champion")
    )
    results, summary = [], None
    for gate in specs:
        compare = comparer(gate.metric) if gate.against == "champion" else None
        if compare is None:
            results.append(gates.evaluate_gate(gate, challenger, champion, min_improvement))
            continue
        verdict = judge_change(champion_gates, compare, paired)
        summary = summary or summarize(verdict, gate.metric, paired.alpha, change_rule)
        if change_rule == "min_improvement":
            results.append(gates.evaluate_gate(gate, challenger, champion, min_improvement))
            continue
        comparison = verdict.comparison
        results.append(
            GateResult(
                name=gate.name,
                passed=verdict.passed,
                observed=comparison.p_value if comparison is not None else None,
                threshold=paired.alpha if comparison is not None else None,
                reason=verdict.reason,
                metric=gate.metric,
                severity=gate.severity,
            )
        )
    return ChangeOutcome(results, summary)
