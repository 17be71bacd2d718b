"""The champion: the registry alias `@champion`, moved only when every gate passed."""

import dagster as dg

from mlops_assets.constants import CHAMPION_ALIAS, CHAMPION_MODEL, RETRAINING_GROUP
from mlops_assets.contracts.stage_results import ChampionChange, VerificationReport
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.resources.registry import RegistryResource


def history_markdown(entries: list[dict], newest: int = 10) -> str:
    """Renders the newest champion decisions as a markdown table."""
    rows = [
        f"| {e['at']} | {e['action']} | v{e['version']} | "
        f"{'v' + e['previous'] if e['previous'] else '–'} | {e['reason']} |"
        for e in reversed(entries[-newest:])
    ]
    header = ["| at | action | version | previous | reason |", "|---|---|---|---|---|"]
    return "\n".join(header + rows)


@dg.asset(
    key=CHAMPION_MODEL,
    group_name=RETRAINING_GROUP,
    partitions_def=monthly_partitions,
    kinds={"mlflow"},
)
def champion_model(
    context: dg.AssetExecutionContext,
    verification_report: VerificationReport,
    model_registry: RegistryResource,
) -> dg.Output[ChampionChange]:
    """The serving model: `@champion` moved to the challenger that passed every gate."""
    registry = model_registry.get_client()
    version = verification_report.challenger.version
    month = verification_report.month
    reason = "; ".join(gate.reason for gate in verification_report.gates)
    if registry.later_month_promoted(month):
        # Re-running an old month reproduces its decision without rewinding today's champion.
        current = registry.champion()
        previous = current.version if current else None
        context.log.info(f"{month} is a re-run: a later month already promoted; alias left alone")
        moved = False
    else:
        previous = registry.promote(version, f"{month}: {reason}", month)
        moved = True
        context.log.info(
            f"{registry.model_name} @{CHAMPION_ALIAS} -> v{version} (previous: {previous})"
        )
    return dg.Output(
        ChampionChange(month=month, version=version, previous_version=previous, alias_moved=moved),
        metadata={
            "champion_version": version,
            "previous_champion_version": previous or "none",
            "alias_moved": moved,
            "accuracy": verification_report.challenger.accuracy,
            "decision_history": dg.MetadataValue.md(history_markdown(registry.history())),
        },
    )
