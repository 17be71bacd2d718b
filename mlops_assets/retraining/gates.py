"""Promotion gates: the one place that decides whether a challenger may replace the champion.

The asset checks on `verification_report` show these results; the report, the promotion and the
completion event quote them. Semantics in ARCHITECTURE.md ("Gates").
"""

from mlops_assets.constants import MAX_P95_LATENCY_S, MIN_ACCURACY
from mlops_assets.contracts.stage_results import Decision, GateResult, ModelScore

ACCURACY_GATE = "accuracy_above_minimum"
LATENCY_GATE = "p95_latency_below_maximum"
NOT_WORSE_GATE = "not_worse_than_champion"
VALUE_GATES = frozenset({ACCURACY_GATE, LATENCY_GATE})


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


def decide(results: list[GateResult]) -> Decision:
    """Names the decision: `promoted` (every gate passed), `rejected` (a value gate failed) or
    `defended` (good enough, but not better than the champion)."""
    failed = {r.name for r in results if not r.passed}
    if not failed:
        return "promoted"
    if failed & VALUE_GATES:
        return "rejected"
    return "defended"
