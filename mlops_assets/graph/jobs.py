"""Jobs: the retraining run (the retraining assets and their checks), the champion monitor and
the rollback."""

from dataclasses import asdict

import dagster as dg
from pydantic import Field

from mlops_assets.constants import CHAMPION_ALIAS, REGISTRY_POOL
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_server import InferenceServerResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.rollback import roll_back_champion


# The executor comes from the Definitions (MLOPS_EXECUTOR): in-process by default, Celery
# workers when scaled out. One registry writer at a time comes from the steps' pool
# (REGISTRY_POOL), not from job tags, so asset materializations and backfills get it too.
def retrain_job_for(model: ModelSpec) -> "dg.UnresolvedAssetJobDefinition":
    """`<model>_retrain_job`: the model's retraining stages, training_data to deployment."""
    names = ModelNames(model.name)
    return dg.define_asset_job(
        name=names.retrain_job,
        selection=dg.AssetSelection.assets(*names.retraining_keys),
        description=f"{model.name}: snapshot the data, train a challenger, verify it against "
        "the champion, promote, deploy.",
    )


def monitor_job_for(model: ModelSpec) -> "dg.UnresolvedAssetJobDefinition":
    """`<model>_monitor_job`: the model's champion_monitor and its checks."""
    names = ModelNames(model.name)
    return dg.define_asset_job(
        name=names.monitor_job,
        selection=dg.AssetSelection.assets(names.champion_monitor),
        description=f"{model.name}: evaluate the serving champion on the newest window "
        "(accuracy, drift) and check it.",
        executor_def=dg.in_process_executor,
    )


class RollbackConfig(dg.Config):
    reason: str = Field(
        default="rollback on demand", description="Why; kept in the champion decision history."
    )


def rollback_job_for(model: ModelSpec) -> dg.JobDefinition:
    """`<model>_rollback_job`: moves the model's @champion back; the server follows."""

    @dg.op(
        name=f"{model.name}_rollback_champion",
        description="Moves @champion back to the version it replaced; the server follows.",
        pool=REGISTRY_POOL,
    )
    def rollback_champion(
        context: dg.OpExecutionContext,
        config: RollbackConfig,
        model_registry: RegistryResource,
        inference_server: InferenceServerResource,
        event_queue: EventQueueResource,
        alerts: AlertsResource,
    ) -> dict:
        moved = roll_back_champion(
            model_registry.get_client(model.registry_name),
            inference_server.get_client(),
            event_queue.get_client(),
            config.reason,
            context.log,
            notifier=alerts.get_client(),
            transition=f"{context.run_id}/rollback_champion",
            model=model.name,
            route=model.serving_route,
        )
        if moved.server_following is False:
            raise dg.Failure(f"@{CHAMPION_ALIAS} is v{moved.version} but the server did not follow")
        return asdict(moved)

    @dg.job(
        name=ModelNames(model.name).rollback_job,
        description=f"{model.name}: move @champion back to the version it replaced; the "
        "inference server follows.",
        # One quick op: a worker round trip would only add latency.
        executor_def=dg.in_process_executor,
    )
    def rollback_job():
        rollback_champion()

    return rollback_job
