"""A small hand-built fleet for the automation conditions: each model's five retraining stages
under its real keys, with the real graph's dependencies (a downstream model's training_data
reads each upstream champion_model; verification_report follows last month's),
assets that only record metadata, and a blocking check on each champion_model.

`champion_model` takes its decision from run config (`ChampionConfig`), so a test promotes,
defends or rejects a month and fails the blocking check at will; the downstream training_data
records the upstream champion versions it used (`upstream_<name>_version`), as the real one.
"""

import dagster as dg

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.automation import automate
from mlops_assets.graph.model_names import ModelNames, upstream_version_key
from mlops_assets.graph.partitions import monthly_partitions

CADENCE = "0 2 * * *"


def spec(name: str, upstream: list[str] | None = None, cadence: str = CADENCE) -> ModelSpec:
    """The shipped photo model under another name, cadence and upstream list."""
    shipped = load_fleet().model("task_photos")
    return shipped.model_copy(update={"name": name, "upstream": upstream or [], "cadence": cadence})


class ChampionConfig(dg.Config):
    version: str = "1"
    previous: str = "none"
    check_passes: bool = True


def _stage_assets(model: ModelSpec) -> list[dg.AssetsDefinition]:
    names = ModelNames(model.name)
    common = {"partitions_def": monthly_partitions, "group_name": model.name}
    upstream = [ModelNames(u).champion_model for u in model.upstream]

    @dg.asset(key=names.training_data, deps=upstream, **common)
    def training_data(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        metadata = {}
        for name, key in zip(model.upstream, upstream, strict=True):
            event = context.instance.get_latest_materialization_event(key)
            value = event.asset_materialization.metadata["champion_version"] if event else None
            metadata[upstream_version_key(name)] = str(getattr(value, "value", "none"))
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(key=names.trained_model, deps=[names.training_data], **common)
    def trained_model() -> None:
        return None

    previous_month = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    @dg.asset(
        key=names.verification_report,
        deps=[
            names.training_data,
            names.trained_model,
            dg.AssetDep(names.verification_report, partition_mapping=previous_month),
        ],
        **common,
    )
    def verification_report() -> None:
        return None

    @dg.asset(
        key=names.champion_model,
        deps=[names.verification_report],
        check_specs=[
            dg.AssetCheckSpec("champion_alias_agrees", asset=names.champion_model, blocking=True)
        ],
        **common,
    )
    def champion_model(config: ChampionConfig):
        moved = config.version != config.previous
        yield dg.MaterializeResult(
            metadata={
                "decision": "promoted" if moved else "defended",
                "champion_version": config.version,
                "previous_champion_version": config.previous,
                "alias_moved": moved,
            }
        )
        yield dg.AssetCheckResult(check_name="champion_alias_agrees", passed=config.check_passes)

    @dg.asset(key=names.deployment, deps=[names.champion_model], **common)
    def deployment() -> None:
        return None

    return [training_data, trained_model, verification_report, champion_model, deployment]


def automated_fleet(models: list[ModelSpec]) -> dg.Definitions:
    """The models' stages with the factory's automation (conditions and sensors) applied."""
    assets = [a for model in models for a in _stage_assets(model)]
    return automate(dg.Definitions(assets=assets), models, "UTC")


def champion_run_config(model: str, version: str, previous: str, passes: bool = True) -> dict:
    """Run config for `model`'s champion_model: the month settles on `version`."""
    op = ModelNames(model).champion_model.to_python_identifier()
    config = {"version": version, "previous": previous, "check_passes": passes}
    return {"ops": {op: {"config": config}}}
