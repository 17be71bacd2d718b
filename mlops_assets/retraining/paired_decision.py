"""The paired promotion rule, written once.

- promote when the challenger passes every value gate and is better with p < alpha;
- also promote when the champion itself fails a value gate on the newest holdout, the
  challenger passes every value gate and is non-inferior (the interval's lower bound of
  challenger − champion above −margin): a failing champion is replaced without waiting for
  significance;
- otherwise keep the champion, with the reason in numbers.

Value gates are the spec's gates against a fixed threshold with severity ERROR; a challenger
failing one is rejected. A holdout the two models cannot be compared on (empty, different
samples, scores that are not numbers) keeps the champion with the reason; it never raises.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mlops_assets.contracts.gate_spec import GateSpec, PairedTestSpec
from mlops_assets.contracts.stage_results import Decision, GateResult
from mlops_assets.retraining.paired import McNemarComparison, PairedInputError
from mlops_assets.retraining.paired_bootstrap import BootstrapComparison

PairedComparison = McNemarComparison | BootstrapComparison
Rule = Literal[
    "no_champion",  # promoted on value gates alone
    "better",  # promoted: significantly better
    "replaces_failing_champion",  # promoted: the champion fails a value gate, non-inferior
    "value_gate_failed",  # rejected
    "not_better",  # defended
    "inferior_to_failing_champion",  # defended: champion fails, challenger not non-inferior
    "bad_input",  # defended: the holdout cannot compare the two
]


@dataclass(frozen=True)
class PairedDecision:
    """What the rule decided, which branch of it, why, and the comparison it read."""

    decision: Decision
    rule: Rule
    reason: str
    comparison: PairedComparison | None = None

    @property
    def keeps_champion(self) -> bool:
        return self.decision != "promoted"

    def as_metadata(self) -> dict[str, float | int | str]:
        """Flat entries for Dagster metadata and MLflow tags: the decision and the numbers."""
        numbers = self.comparison.as_metadata() if self.comparison is not None else {}
        return {
            **numbers,
            "paired_decision": self.decision,
            "paired_rule": self.rule,
            "paired_decision_reason": self.reason,
        }


def value_gates(gates: Sequence[GateSpec]) -> list[GateSpec]:
    """The gates a model must pass on its own: against a threshold, severity ERROR."""
    return [g for g in gates if g.against == "threshold" and g.severity == "ERROR"]


def check_value_gates(
    gates: Sequence[GateSpec], metrics: Mapping[str, float], who: str
) -> list[GateResult]:
    """Each value gate on one model's holdout metrics; a missing or NaN metric fails its gate.

    Args:
        gates: the value gates (`value_gates`).
        metrics: the model's metrics by the spec's metric names.
        who: 'challenger' or 'champion', for the reasons.
    """
    results = []
    for gate in gates:
        observed = metrics.get(gate.metric)
        if observed is None or not math.isfinite(observed):
            results.append(
                GateResult(
                    name=gate.name,
                    passed=False,
                    threshold=gate.threshold,
                    reason=f"{who} {gate.metric} is {observed}: not a number",
                )
            )
            continue
        passed = gate.passes(observed, gate.threshold)
        verdict = "" if passed else "not "
        results.append(
            GateResult(
                name=gate.name,
                passed=passed,
                observed=observed,
                threshold=gate.threshold,
                reason=f"{who} {gate.metric} {observed:.4g} is {verdict}{gate.comparison} "
                f"{gate.threshold:.4g}",
            )
        )
    return results


@dataclass(frozen=True)
class ChangeVerdict:
    """The champion-relative half of the rule: may the challenger replace this champion?"""

    passed: bool
    rule: Rule
    reason: str
    comparison: PairedComparison | None = None


def judge_change(
    champion_gates: Sequence[GateResult] | None,
    compare: Callable[[], PairedComparison],
    spec: PairedTestSpec,
) -> ChangeVerdict:
    """The rule's verdict on the change alone (the challenger's value gates aside): passed when
    there is no champion, when the challenger is better with p < alpha, or when the champion
    fails a value gate and the challenger is non-inferior. Never raises on bad holdout input.

    Args:
        champion_gates: the champion's value gate results on the same holdout; None when there
            is no champion.
        compare: computes the paired comparison (`paired.compare_correctness` or
            `paired_bootstrap.paired_bootstrap` with their inputs bound). A `PairedInputError`
            it raises keeps the champion.
        spec: alpha and the non-inferiority margin.
    """
    if champion_gates is None:
        return ChangeVerdict(True, "no_champion", "no champion yet: value gates only")
    try:
        comparison = compare()
    except PairedInputError as error:
        return ChangeVerdict(False, "bad_input", f"champion kept, no comparison: {error}")
    if comparison.p_value < spec.alpha:
        return ChangeVerdict(
            True,
            "better",
            f"better than the champion: {comparison.reason}, below alpha = {spec.alpha:g}",
            comparison,
        )
    champion_failed = [g for g in champion_gates if not g.passed]
    if champion_failed:
        names = ", ".join(g.name for g in champion_failed)
        margin = spec.non_inferiority_margin
        bound = f"lower bound {comparison.low * 100:+.1f} vs margin {-margin * 100:+.1f} points"
        if comparison.low > -margin:
            return ChangeVerdict(
                True,
                "replaces_failing_champion",
                f"champion fails {names}; challenger non-inferior ({bound}): {comparison.reason}",
                comparison,
            )
        return ChangeVerdict(
            False,
            "inferior_to_failing_champion",
            f"champion fails {names} but the challenger is not non-inferior ({bound}): "
            f"{comparison.reason}",
            comparison,
        )
    return ChangeVerdict(
        False,
        "not_better",
        f"not shown better than the champion: {comparison.reason}, "
        f"not below alpha = {spec.alpha:g}",
        comparison,
    )


def decide(
    challenger_gates: Sequence[GateResult],
    champion_gates: Sequence[GateResult] | None,
    compare: Callable[[], PairedComparison],
    spec: PairedTestSpec,
) -> PairedDecision:
    """Applies the paired promotion rule: the challenger's value gates, then `judge_change`.

    Args:
        challenger_gates: the challenger's value gate results on the newest holdout.
        champion_gates: the champion's value gate results on the same holdout; None when there
            is no champion.
        compare: computes the paired comparison; called only when the decision depends on it.
        spec: alpha and the non-inferiority margin.

    Returns:
        The decision; it never raises on bad holdout input.
    """
    failed = [g for g in challenger_gates if not g.passed]
    if failed:
        reasons = "; ".join(f"{g.name}: {g.reason}" for g in failed)
        return PairedDecision("rejected", "value_gate_failed", f"value gate failed: {reasons}")
    if not challenger_gates:
        return PairedDecision("rejected", "value_gate_failed", "no value gate ran")
    change = judge_change(champion_gates, compare, spec)
    if change.rule == "bad_input":
        return PairedDecision("defended", "bad_input", change.reason)
    decision: Decision = "promoted" if change.passed else "defended"
    return PairedDecision(decision, change.rule, change.reason, change.comparison)
