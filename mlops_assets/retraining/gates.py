"""Promotion gates: the one place that decides whether a challenger may replace the champion.

The asset checks on `verification_report` show these results; the report, the promotion and the
completion event quote them. Semantics in ARCHITECTURE.md ("Gates").
"""

from mlops_assets.constants import MAX_P95_LATENCY_S, MIN_ACCURACY
from mlops_assets.contracts.stage_results import Decision, GateResult, ModelScore

ACCURACY_GATE = "accuracy_above_minimum"
LATENCY_GATE = "p95_latency_below_maximum"
NOT_WORSE_GATE = "not_worse_than_champion"
GATE_NAMES = (ACCURACY_GATE, LATENCY_GATE, NOT_WORSE_GATE)


class PromotionRefused(RuntimeError):
    """A promotion was attempted although a gate failed or did not run."""


def accuracy_gate(challenger: ModelScore) -> GateResult:
    """Challenger holdout accuracy must exceed MIN_ACCURACY."""
    observed = challenger.accuracy
    passed = observed > MIN_ACCURACY
    verdict = "above" if passed else "not above"
    return GateResult(
        name=ACCURACY_GATE,
        passed=passed,
        observed=observed,
        threshold=MIN_ACCURACY,
        reason=f"challenger accuracy {observed:.4f} is {verdict} the minimum {MIN_ACCURACY:.2f}",
    )


def latency_gate(challenger: ModelScore) -> GateResult:
    """Challenger p95 single-sample latency must stay under MAX_P95_LATENCY_S."""
    observed = challenger.latency_p95_s
    passed = observed < MAX_P95_LATENCY_S
    verdict = "under" if passed else "not under"
    return GateResult(
        name=LATENCY_GATE,
        passed=passed,
        observed=observed,
        threshold=MAX_P95_LATENCY_S,
        reason=f"p95 latency {observed * 1000:.2f} ms is {verdict} {MAX_P95_LATENCY_S:.0f} s",
    )


def not_worse_gate(
    challenger: ModelScore, champion: ModelScore | None, min_improvement: float
) -> GateResult:
    """Challenger accuracy must reach champion's + min_improvement; passes with no champion."""
    if champion is None:
        return GateResult(
            name=NOT_WORSE_GATE, passed=True, reason="no champion yet: value gates only"
        )
    observed = challenger.accuracy
    threshold = champion.accuracy + min_improvement
    passed = observed >= threshold
    verdict = "reaches" if passed else "falls short of"
    return GateResult(
        name=NOT_WORSE_GATE,
        passed=passed,
        observed=observed,
        threshold=threshold,
        reason=f"challenger accuracy {observed:.4f} {verdict} champion v{champion.version} "
        f"{champion.accuracy:.4f} + {min_improvement:.4f}",
    )


def evaluate(
    challenger: ModelScore, champion: ModelScore | None, min_improvement: float
) -> list[GateResult]:
    """Runs every gate on the two scores."""
    return [
        accuracy_gate(challenger),
        latency_gate(challenger),
        not_worse_gate(challenger, champion, min_improvement),
    ]


def _not_passed(results: list[GateResult]) -> set[str]:
    # A gate that did not run counts as failed: only a complete, passing verdict promotes.
    passed = {r.name for r in results if r.passed}
    return {r.name for r in results if not r.passed} | (set(GATE_NAMES) - passed)


def decide(results: list[GateResult]) -> Decision:
    """Names the decision: `promoted` (every gate ran and passed), `rejected` (a value gate
    failed or did not run) or `defended` (good enough, but not better than the champion)."""
    not_passed = _not_passed(results)
    if not not_passed:
        return "promoted"
    if not_passed - {NOT_WORSE_GATE}:
        return "rejected"
    return "defended"


def require_promotable(results: list[GateResult]) -> None:
    """The one door to `@champion`: returns only when every gate ran and passed.

    `champion_model` calls it right before moving the alias, whatever the report's recorded
    decision says, so no path promotes past a failed gate.

    Raises:
        PromotionRefused: naming each gate that failed (with its reason) or did not run.
    """
    not_passed = _not_passed(results)
    if not_passed:
        reasons = {r.name: r.reason for r in results}
        details = "; ".join(
            f"{name}: {reasons.get(name) or 'did not run'}"
            for name in GATE_NAMES + tuple(sorted(not_passed - set(GATE_NAMES)))
            if name in not_passed
        )
        raise PromotionRefused(f"promotion refused, not every gate passed: {details}")
