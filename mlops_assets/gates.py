"""Promotion gates: the one place that decides whether a challenger may replace the champion.

The blocking asset checks enforce these results; the report, the promotion and the completion
event quote them. Semantics in ARCHITECTURE.md ("Gates").
"""

from dataclasses import asdict, dataclass

from mlops_assets.constants import MAX_P95_LATENCY_S, MIN_ACCURACY

ACCURACY_GATE = "accuracy_above_minimum"
LATENCY_GATE = "p95_latency_below_maximum"
NOT_WORSE_GATE = "not_worse_than_champion"


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with the numbers it compared."""

    name: str
    passed: bool
    observed: float | None
    threshold: float | None
    reason: str

    def as_dict(self) -> dict:
        """Plain-JSON form for reports and events."""
        return asdict(self)


def accuracy_gate(report: dict) -> GateResult:
    """Challenger holdout accuracy must exceed MIN_ACCURACY."""
    observed = report["challenger"]["accuracy"]
    passed = observed > MIN_ACCURACY
    verdict = "above" if passed else "not above"
    return GateResult(
        ACCURACY_GATE,
        passed,
        observed,
        MIN_ACCURACY,
        f"challenger accuracy {observed:.4f} is {verdict} the minimum {MIN_ACCURACY:.2f}",
    )


def latency_gate(report: dict) -> GateResult:
    """Challenger p95 single-sample latency must stay under MAX_P95_LATENCY_S."""
    observed = report["challenger"]["latency_p95_s"]
    passed = observed < MAX_P95_LATENCY_S
    verdict = "under" if passed else "not under"
    return GateResult(
        LATENCY_GATE,
        passed,
        observed,
        MAX_P95_LATENCY_S,
        f"p95 latency {observed * 1000:.2f} ms is {verdict} {MAX_P95_LATENCY_S:.0f} s",
    )


def not_worse_gate(report: dict) -> GateResult:
    """Challenger accuracy must reach champion's + min_improvement; passes with no champion."""
    champion = report.get("champion")
    if champion is None:
        return GateResult(NOT_WORSE_GATE, True, None, None, "no champion yet: value gates only")
    observed = report["challenger"]["accuracy"]
    threshold = champion["accuracy"] + report["min_improvement"]
    passed = observed >= threshold
    verdict = "reaches" if passed else "falls short of"
    return GateResult(
        NOT_WORSE_GATE,
        passed,
        observed,
        threshold,
        f"challenger accuracy {observed:.4f} {verdict} champion v{champion['version']} "
        f"{champion['accuracy']:.4f} + {report['min_improvement']:.4f}",
    )


def evaluate(report: dict) -> list[GateResult]:
    """Runs every gate on a verification report."""
    return [accuracy_gate(report), latency_gate(report), not_worse_gate(report)]


def decide(results: list[GateResult]) -> str:
    """Names the outcome: `promote`, `rejected` (a value gate failed) or `defended`."""
    failed = {r.name for r in results if not r.passed}
    if not failed:
        return "promote"
    if failed & {ACCURACY_GATE, LATENCY_GATE}:
        return "rejected"
    return "defended"
