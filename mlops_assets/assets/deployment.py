"""Deployment, the saga's last step: the inference server serves the new champion, or the
promotion is compensated (alias and server back on the previous champion).

Also the on-demand rollback op behind `rollback_champion_job`; it and the compensation run the
same use case as `mlops-assets rollback` (`mlops_assets.rollback`).
"""

import time
from dataclasses import asdict

import dagster as dg
from pydantic import Field

from mlops_assets.constants import CHAMPION_ALIAS, DEPLOYMENT, RETRAINING_GROUP
from mlops_assets.partitions import monthly_partitions
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.registry import ModelRegistry
from mlops_assets.resources.serving_client import ServingClient
from mlops_assets.rollback import ChampionMoved, roll_back_champion
from mlops_assets.serving.client import DeploymentError


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
    return roll_back_champion(
        model_registry.registry,
        serving_client.server,
        event_queue.queue if event_queue is not None else None,
        f"deployment of v{version} failed: {failure}",
        context.log,
        server_reason=f"compensation: v{version} refused",
    )


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
    moved = roll_back_champion(
        model_registry.registry,
        serving_client.server,
        event_queue.queue,
        config.reason,
        context.log,
    )
    if moved.server_following is False:
        raise dg.Failure(f"@{CHAMPION_ALIAS} is v{moved.version} but the server did not follow")
    return asdict(moved)
