"""Jobs: the retraining run (the retraining assets and their checks), the champion monitor and
the rollback."""

from dataclasses import asdict

import dagster as dg
from pydantic import Field

from mlops_assets.constants import (
    CHAMPION_ALIAS,
    CHAMPION_MODEL,
    CHAMPION_MONITOR,
    DEPLOYMENT,
    REGISTRY_POOL,
    TRAINED_MODEL,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_client import InferenceClientResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.rollback import roll_back_champion

# The executor comes from the Definitions (MLOPS_EXECUTOR): in-process by default, Celery
# workers when scaled out. One registry writer at a time comes from the steps' pool
# (REGISTRY_POOL), not from job tags, so asset materializations and backfills get it too.
retrain_job = dg.define_asset_job(
    name="retrain_job",
    selection=dg.AssetSelection.assets(
        TRAINING_DATA, TRAINED_MODEL, VERIFICATION_REPORT, CHAMPION_MODEL, DEPLOYMENT
    ),
    description="Snapshot the data, train a challenger, verify it against the champion, promote, "
    "deploy.",
)


monitor_job = dg.define_asset_job(
    name="monitor_job",
    selection=dg.AssetSelection.assets(CHAMPION_MONITOR),
    description="Evaluate the serving champion on the newest window (accuracy, drift) and "
    "check it.",
    executor_def=dg.in_process_executor,
)


class RollbackConfig(dg.Config):
    reason: str = Field(
        default="rollback on demand", description="Why; kept in the champion decision history."
    )


@dg.op(
    description="Moves @champion back to the version it replaced; the server follows.",
    pool=REGISTRY_POOL,
)
def rollback_champion(
    context: dg.OpExecutionContext,
    config: RollbackConfig,
    model_registry: RegistryResource,
    serving_client: InferenceClientResource,
    event_queue: EventQueueResource,
    alerts: AlertsResource,
) -> dict:
    moved = roll_back_champion(
        model_registry.get_client(),
        serving_client.get_client(),
        event_queue.get_client(),
        config.reason,
        context.log,
        notifier=alerts.get_client(),
        transition=f"{context.run_id}/rollback_champion",
    )
    if moved.server_following is False:
        raise dg.Failure(f"@{CHAMPION_ALIAS} is v{moved.version} but the server did not follow")
    return asdict(moved)


@dg.job(
    description="Move @champion back to the version it replaced; the inference server follows.",
    # One quick op: a worker round trip would only add latency.
    executor_def=dg.in_process_executor,
)
def rollback_champion_job():
    rollback_champion()
