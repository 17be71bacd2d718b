"""Settling a decided month: the registry's `@champion` after a verification report."""

from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.stage_results import ChampionChange, VerificationReport
from mlops_assets.retraining import gates


def settle_champion(registry: RegistryClient, report: VerificationReport) -> ChampionChange:
    """Applies a verification report to the registry and says who serves after its month.

    The alias moves only through `gates.require_promotable`. A re-run of an old month whose
    gates pass leaves a later month's champion in place (defended); a defended or rejected
    month records its decision and leaves the alias alone.
    """
    month, challenger = report.month, report.challenger.version
    current = registry.champion()
    before = current.version if current else None
    decision = gates.decide(report.gates)
    after, moved, reasons = before, False, report.failed_reasons
    if decision == "promoted" and registry.later_month_promoted(month):
        decision = "defended"
        reasons = [f"re-run of {month}: a later month already promoted; v{before} serves on"]
    elif decision == "promoted":
        gates.require_promotable(report.gates)
        before = registry.promote(challenger, f"{month}: every gate passed", month)
        after, moved, reasons = challenger, True, [g.reason for g in report.gates]
    else:
        registry.record(decision, challenger, before, f"{month}: {'; '.join(reasons)}")
    return ChampionChange(
        month=month,
        decision=decision,
        version=after,
        previous_version=before,
        challenger_version=challenger,
        alias_moved=moved,
        reasons=reasons,
    )
