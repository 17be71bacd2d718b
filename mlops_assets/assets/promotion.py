"""The champion: the registry alias `@champion`, moved only when every gate passed."""

import dagster as dg

from mlops_assets.constants import CHAMPION_ALIAS, CHAMPION_MODEL, RETRAINING_GROUP
from mlops_assets.resources.registry import ModelRegistry


def history_markdown(entries: list[dict], newest: int = 10) -> str:
    """Renders the newest champion decisions as a markdown table."""
    rows = [
        f"| {e['at']} | {e['action']} | v{e['version']} | "
        f"{'v' + e['previous'] if e['previous'] else '–'} | {e['reason']} |"
        for e in reversed(entries[-newest:])
    ]
    header = ["| at | action | version | previous | reason |", "|---|---|---|---|---|"]
    return "\n".join(header + rows)


@dg.asset(key=CHAMPION_MODEL, group_name=RETRAINING_GROUP, kinds={"mlflow"})
def champion_model(
    context: dg.AssetExecutionContext, verification_report: dict, model_registry: ModelRegistry
) -> dg.Output[dict]:
    """The serving model: `@champion` moved to the challenger that passed every gate."""
    version = verification_report["challenger"]["version"]
    reason = "; ".join(gate["reason"] for gate in verification_report["gates"])
    previous = model_registry.promote(version, reason)
    context.log.info(
        f"{model_registry.model_name} @{CHAMPION_ALIAS} -> v{version} (previous: {previous})"
    )
    return dg.Output(
        {"version": version, "previous_version": previous},
        metadata={
            "champion_version": version,
            "previous_champion_version": previous or "none",
            "accuracy": verification_report["challenger"]["accuracy"],
            "decision_history": dg.MetadataValue.md(history_markdown(model_registry.history())),
        },
    )
