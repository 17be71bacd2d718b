"""Deployment, the saga's last step: the inference server serves the new champion, or the
promotion is compensated (alias and server back on the previous champion).

Also the on-demand rollback op behind `rollback_champion_job` and `mlops-assets rollback`.
"""

import logging
import time
from dataclasses import asdict, dataclass

import dagster as dg
from pydantic import Field

from mlops_assets.constants import CHAMPION_ALIAS, DEPLOYMENT, RETRAINING_GROUP
from mlops_assets.events import MODEL_EVENTS_QUEUE, ModelRolledBack
from mlops_assets.partitions import monthly_partitions
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.registry import ModelRegistry
from mlops_assets.resources.serving_client import ServingClient
from mlops_assets.serving.client import DeploymentError


@dataclass(frozen=True)
class ChampionMoved:
    """The champion alias moved back: what a `ModelRolledBack` message carries."""

    model_name: str
    version: str
    previous_version: str
    reason: str
    server_following: bool | None


def on_champion_rolled_back(
    log: logging.Logger | dg.DagsterLogManager,
    moved: ChampionMoved,
    event_queue: EventQueueResource | None = None,
) -> None:
    """Called after every rollback, compensation or on demand.

    Publishes `ModelRolledBack` (model name, version now serving, the version rolled back from,
    reason) on the model events queue. A failed deployment also fails its run, which is where
    `PipelineFailed` comes from.
    """
    log.warning(
        f"champion rolled back: {moved.model_name} @{CHAMPION_ALIAS} v{moved.previous_version} "
        f"-> v{moved.version}; server following: {moved.server_following}; {moved.reason}"
    )
    if event_queue is not None:
        event = ModelRolledBack(
            model_name=moved.model_name,
            version=moved.version,
            previous_version=moved.previous_version,
            reason=moved.reason,
        )
        event_queue.publish(MODEL_EVENTS_QUEUE, [event])


def follow(
    log: logging.Logger | dg.DagsterLogManager,
    serving_client: ServingClient,
    version: str,
    reason: str,
) -> bool | None:
    """Makes the server serve `version` after a rollback; None when no server is configured."""
    if not serving_client.configured:
        return None
    try:
        serving_client.deploy(version, reason)
    except DeploymentError as error:
        log.error(f"inference server did not come back to v{version}: {error}")
        return False
    return True


def compensate(
    context: dg.AssetExecutionContext,
    model_registry: ModelRegistry,
    serving_client: ServingClient,
    version: str,
    previous: str | None,
    failure: DeploymentError,
    event_queue: EventQueueResource | None = None,
) -> ChampionMoved | None:
    """Moves the alias back to `previous` and the server with it; None if there is no way back."""
    if previous is None:
        context.log.error(
            f"v{version} is the first champion: no previous version to roll back to; "
            "the server keeps its current state"
        )
        return None
    current = model_registry.champion()
    if current is None or current.version != version:
        context.log.error(
            f"@{CHAMPION_ALIAS} moved on to v{current.version if current else None} meanwhile: "
            "leaving it alone"
        )
        return None
    reason = f"deployment of v{version} failed: {failure}"
    rolled_from, restored = model_registry.rollback(reason)
    moved = ChampionMoved(
        model_name=model_registry.model_name,
        version=restored,
        previous_version=rolled_from,
        reason=reason,
        server_following=follow(
            context.log, serving_client, restored, f"compensation: v{version} refused"
        ),
    )
    on_champion_rolled_back(context.log, moved, event_queue)
    return moved


@dg.asset(
    key=DEPLOYMENT,
    group_name=RETRAINING_GROUP,
    partitions_def=monthly_partitions,
    kinds={"fastapi"},
)
def deployment(
    context: dg.AssetExecutionContext,
    champion_model: dict,
    model_registry: ModelRegistry,
    serving_client: ServingClient,
    event_queue: EventQueueResource,
) -> dg.Output[dict]:
    """The champion in service: the inference server reloaded and answering with its version."""
    version = champion_model["version"]
    previous = champion_model["previous_version"]
    if not champion_model.get("alias_moved", True):
        context.log.info("the alias did not move (a re-run of an earlier month): nothing to deploy")
        return dg.Output(
            {"version": previous, "status": "alias_not_moved"},
            metadata={"status": "alias not moved", "champion_version": previous or "none"},
        )
    if not serving_client.configured:
        context.log.info("no inference server configured (MLOPS_SERVING_URL unset): skipped")
        return dg.Output(
            {"version": version, "status": "no_server"},
            metadata={"status": "no server configured", "champion_version": version},
        )
    started = time.perf_counter()
    try:
        report = serving_client.deploy(version, f"deploy v{version} (run {context.run_id[:8]})")
    except DeploymentError as failure:
        moved = compensate(
            context, model_registry, serving_client, version, previous, failure, event_queue
        )
        raise dg.Failure(
            description=f"inference server did not serve v{version}: {failure}",
            metadata={
                "failed_version": version,
                "compensation": str(asdict(moved)) if moved else "none possible",
            },
        ) from failure
    seconds = round(time.perf_counter() - started, 3)
    context.log.info(f"{serving_client.url} serves v{version} ({report['status']}, {seconds} s)")
    return dg.Output(
        {"version": version, "status": "serving", "previous_version": previous},
        metadata={
            "status": "serving",
            "serving_version": version,
            "previous_version": previous or "none",
            "server": dg.MetadataValue.url(f"{serving_client.url.rstrip('/')}/model"),
            "deploy_seconds": seconds,
        },
    )


class RollbackConfig(dg.Config):
    reason: str = Field(
        default="rollback on demand", description="Why; kept in the champion decision history."
    )


@dg.op(description="Moves @champion back to the version it replaced; the server follows.")
def rollback_champion(
    context: dg.OpExecutionContext,
    config: RollbackConfig,
    model_registry: ModelRegistry,
    serving_client: ServingClient,
    event_queue: EventQueueResource,
) -> dict:
    rolled_from, restored = model_registry.rollback(config.reason)
    moved = ChampionMoved(
        model_name=model_registry.model_name,
        version=restored,
        previous_version=rolled_from,
        reason=config.reason,
        server_following=follow(context.log, serving_client, restored, config.reason),
    )
    on_champion_rolled_back(context.log, moved, event_queue)
    if moved.server_following is False:
        raise dg.Failure(f"@{CHAMPION_ALIAS} is v{restored} but the server did not follow")
    return asdict(moved)
