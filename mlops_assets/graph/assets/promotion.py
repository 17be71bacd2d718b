"""The champion after each decided month: `@champion` moved to a challenger that passed every
gate, or kept where it was (defended, rejected). It materializes for every decided month, so
its partitions answer "who served after month m" and stay green whatever the gates said."""

import dagster as dg

from mlops_assets.backends.registry import RegistryClient
from mlops_assets.constants import (
    CHAMPION_ALIAS,
    CHAMPION_MODEL,
    REGISTRY_POOL,
    VERIFICATION_REPORT,
)
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.stage_results import ChampionChange, GatedReport
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.promotion import settle_champion


def history_markdown(entries: list[dict], newest: int = 10) -> str:
    """Renders the newest champion decisions as a markdown table."""
    rows = [
        f"| {e['at']} | {e['action']} | v{e['version']} | "
        f"{'v' + e['previous'] if e['previous'] else '–'} | {e['reason']} |"
        for e in reversed(entries[-newest:])
    ]
    header = ["| at | action | version | previous | reason |", "|---|---|---|---|---|"]
    return "\n".join(header + rows)


def settle(
    context: dg.AssetExecutionContext,
    verification_report: GatedReport,
    registry: RegistryClient,
    headline: str,
) -> dg.Output[ChampionChange]:
    """Settles the month's champion in `registry` and describes the change, quoting both
    models' `headline` metric (the spec's first gate's)."""
    # A retried step (same run) records its decision and moves the alias at most once.
    change = settle_champion(registry, verification_report, f"{context.run_id}/{CHAMPION_MODEL}")
    serving = f"v{change.version}" if change.version else "no champion"
    context.log.info(
        f"{change.month}: {change.decision}; {registry.model_name} @{CHAMPION_ALIAS} = {serving}"
        + (f" (previous: v{change.previous_version})" if change.alias_moved else "")
    )
    champion = verification_report.champion
    return dg.Output(
        change,
        # Changes only when @champion moves (lineage shows what a new champion made stale);
        # automation reads champion_version, not this (graph/automation.py).
        data_version=dg.DataVersion(f"v{change.version}" if change.version else "none"),
        metadata={
            "decision": change.decision,
            "champion_version": change.version or "none",
            "previous_champion_version": change.previous_version or "none",
            "challenger_version": change.challenger_version,
            "alias_moved": change.alias_moved,
            f"challenger_{headline}": verification_report.challenger.metrics[headline],
            **({f"champion_{headline}": champion.metrics[headline]} if champion else {}),
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in change.reasons)),
            "decision_history": dg.MetadataValue.md(history_markdown(registry.history())),
        },
    )


def champion_model_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/champion_model`: `@champion` of the model's registered model after each month."""
    names = ModelNames(model.name)

    @dg.asset(
        key=names.champion_model,
        ins={VERIFICATION_REPORT: dg.AssetIn(names.verification_report)},
        # One run that moves @champion or the server at a time, whatever launched it.
        pool=REGISTRY_POOL,
        group_name=model.name,
        partitions_def=monthly_partitions,
        kinds={"mlflow"},
    )
    def champion_model(
        context: dg.AssetExecutionContext,
        verification_report: GatedReport,
        model_registry: RegistryResource,
    ) -> dg.Output[ChampionChange]:
        """The champion serving after the month: the challenger if every gate passed
        (promoted), else the champion kept (defended: not better; rejected: a value gate
        failed)."""
        registry = model_registry.get_client(model.registry_name)
        return settle(context, verification_report, registry, model.gates[0].metric)

    return champion_model
