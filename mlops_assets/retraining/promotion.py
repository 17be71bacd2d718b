"""Settling a decided month: the registry's `@champion` after a verification report."""

from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.stage_results import ChampionChange, GatedReport
from mlops_assets.retraining import gates


def settle_champion(
    registry: RegistryClient, report: GatedReport, transition: str | None = None
) -> ChampionChange:
    """Applies a verification report to the registry and says who serves after its month.

    The alias moves only through `gates.require_promotable`, and only from the champion the
    report judged the challenger against (a compare-and-set under the champion lock: a stale
    report raises `ChampionConflict`). A re-run of an old month whose gates pass leaves a later
    month's decision in place (defended); every decision is recorded once per transition id.
    Settling a month whose challenger already is champion (a retried or re-materialized step)
    moves nothing and keeps its recorded predecessor.

    Args:
        registry: the registry holding the alias.
        report: the month's verification report.
        transition: the decision's id (run id + step); the same id is recorded once.
    """
    month, challenger = report.month, report.challenger.version
    current = registry.champion()
    before = current.version if current else None
    decision = gates.decide(report.gates)
    after, moved, reasons = before, False, report.failed_reasons
    if decision == "promoted" and before != challenger and registry.later_month_decided(month):
        decision = "defended"
        reasons = [f"re-run of {month}: a later month is already decided; v{before} serves on"]
    if decision == "promoted":
        gates.require_promotable(report.gates)
        judged_against = report.champion.version if report.champion else None
        before = registry.promote(
            challenger, f"{month}: every gate passed", month, judged_against, transition
        )
        after, moved, reasons = challenger, True, [g.reason for g in report.gates]
    elif registry.transition(transition) is None:
        text = f"{month}: {'; '.join(reasons)}"
        registry.record(decision, challenger, before, text, month=month, transition=transition)
    return ChampionChange(
        month=month,
        decision=decision,
        version=after,
        previous_version=before,
        challenger_version=challenger,
        alias_moved=moved,
        reasons=reasons,
    )
