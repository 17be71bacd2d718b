"""Promotion gates: the one place that decides whether a challenger may replace the champion.

Each gate is declared in the model spec (`contracts.gate_spec.GateSpec`): a metric, a
comparison, a bound (a threshold or the champion's value) and a severity. `evaluate` runs the
spec's gates on metric dicts of any task (classification: accuracy, latency_p95_s;
verification: tar_at_far, eer, …); `decide` names the decision from the results alone. The
asset checks on `verification_report` show these results under the gates' names; the report,
the promotion and the completion event quote them. Semantics in ARCHITECTURE.md ("Gates").
"""

from collections.abc import Mapping, Sequence

from mlops_assets.contracts.gate_spec import GateSpec
from mlops_assets.contracts.stage_results import Decision, GateResult


class PromotionRefused(RuntimeError):
    """A promotion was attempted although a gate failed or did not run."""


def _verdict(gate: GateSpec, passed: bool) -> str:
    return f"meets {gate.comparison}" if passed else f"does not meet {gate.comparison}"


def evaluate_gate(
    gate: GateSpec,
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    min_improvement: float,
) -> GateResult:
    """Runs one gate: the challenger's `gate.metric` compared with the gate's bound.

    A gate against the champion passes when there is no champion. A metric the challenger did
    not report fails the gate (it did not run); so does a champion without the metric.
    """
    common = {"name": gate.name, "metric": gate.metric, "severity": gate.severity}
    observed = challenger.get(gate.metric)
    if observed is None:
        return GateResult(
            passed=False, reason=f"the challenger reported no {gate.metric}: gate not run", **common
        )
    if gate.against == "champion" and champion is None:
        return GateResult(
            passed=True, observed=observed, reason="no champion yet: value gates only", **common
        )
    champion_value = None if champion is None else champion.get(gate.metric)
    if gate.against == "champion" and champion_value is None:
        return GateResult(
            passed=False,
            observed=observed,
            reason=f"the champion reported no {gate.metric}: gate not run",
            **common,
        )
    bound = gate.bound(champion_value, min_improvement)
    passed = gate.passes(observed, bound)
    if gate.against == "champion":
        allowance = "tolerance" if gate.tolerance is not None else "min_improvement"
        against = (
            f"champion {champion_value:.4f} {bound - champion_value:+.4f} ({allowance}) "
            f"= {bound:.4f}"
        )
    else:
        against = f"the threshold {bound:g}"
    return GateResult(
        passed=passed,
        observed=observed,
        threshold=bound,
        reason=f"challenger {gate.metric} {observed:.4f} {_verdict(gate, passed)} {against}",
        **common,
    )


def evaluate(
    specs: Sequence[GateSpec],
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    min_improvement: float,
) -> list[GateResult]:
    """Runs every gate of a model spec, in the spec's order.

    Args:
        specs: the model's gates (`ModelSpec.gates`).
        challenger: the challenger's metrics on the holdout, by metric name.
        champion: the champion's metrics on the same holdout; None when there is no champion.
        min_improvement: how much better than the champion a challenger must be on a gate
            against the champion without a tolerance.
    """
    return [evaluate_gate(gate, challenger, champion, min_improvement) for gate in specs]


def _not_passed(results: Sequence[GateResult], expected: Sequence[str]) -> list[GateResult]:
    # A gate that did not run counts as failed (and as a value gate): only a complete, passing
    # verdict promotes.
    ran = {r.name for r in results}
    missing = [
        GateResult(name=name, passed=False, reason="did not run")
        for name in expected
        if name not in ran
    ]
    return [r for r in results if not r.passed] + missing


def decide(results: Sequence[GateResult], expected: Sequence[str] = ()) -> Decision:
    """Names the decision: `promoted` (every gate ran and passed), `rejected` (an ERROR gate,
    one against a threshold, failed or did not run) or `defended` (only WARN gates, the ones
    against the champion, failed: good enough, but not better).

    Args:
        results: the gate results.
        expected: gate names that must be among the results (a missing one did not run).
    """
    not_passed = _not_passed(results, expected)
    if not results or not not_passed:
        return "promoted" if results else "rejected"
    if any(r.severity == "ERROR" for r in not_passed):
        return "rejected"
    return "defended"


def require_promotable(results: Sequence[GateResult], expected: Sequence[str] = ()) -> None:
    """The one door to `@champion`: returns only when every gate ran and passed.

    `champion_model` calls it right before moving the alias, whatever the report's recorded
    decision says, so no path promotes past a failed gate.

    Raises:
        PromotionRefused: naming each gate that failed (with its reason) or did not run, or
            saying that no gate ran at all.
    """
    if not results:
        raise PromotionRefused("promotion refused: no gate ran")
    not_passed = _not_passed(results, expected)
    if not_passed:
        details = "; ".join(f"{r.name}: {r.reason or 'did not run'}" for r in not_passed)
        raise PromotionRefused(f"promotion refused, not every gate passed: {details}")
