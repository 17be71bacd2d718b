"""Deployment, the saga's last step: the inference server serves the new champion, or the
promotion is compensated (alias and server back on the previous champion).

The compensation runs the same use case as `<model>_rollback_job` and `mlops-assets rollback`
(`mlops_assets.retraining.rollback`).
"""

import time
from dataclasses import asdict

import dagster as dg

from mlops_assets.backends.champion_moves import ChampionConflict
from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.backends.inference_server import DeploymentError, InferenceServerClient
from mlops_assets.backends.notifier import Notifier
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.constants import CHAMPION_MODEL, DEPLOYMENT, REGISTRY_POOL
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.stage_results import ChampionChange, DeploymentResult
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_server import InferenceServerResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.rollback import ChampionMoved, roll_back_champion


def compensate(
    context: dg.AssetExecutionContext,
    registry: RegistryClient,
    inference_server: InferenceServerClient,
    version: str,
    previous: str | None,
    failure: DeploymentError,
    event_queue: EventQueue | None = None,
    notifier: Notifier | None = None,
    model: ModelSpec | None = None,
) -> ChampionMoved | None:
    """Moves the alias back to `previous` and the server with it; None if there is no way back."""
    if previous is None:
        context.log.error(
            f"v{version} is the first champion: no previous version to roll back to; "
            "the server keeps its current state"
        )
        return None
    try:
        # Compare-and-set: only if @champion still is the version that failed to deploy.
        return roll_back_champion(
            registry,
            inference_server,
            event_queue,
            f"deployment of v{version} failed: {failure}",
            context.log,
            server_reason=f"compensation: v{version} refused",
            notifier=notifier,
            expected=version,
            transition=f"{context.run_id}/{DEPLOYMENT}",
            **({"model": model.name, "route": model.serving_route} if model else {}),
        )
    except ChampionConflict as conflict:
        context.log.error(f"{conflict}: leaving it alone")
        return None


def deploy_champion(
    context: dg.AssetExecutionContext,
    model: ModelSpec,
    champion_model: ChampionChange,
    model_registry: RegistryResource,
    inference_server: InferenceServerResource,
    event_queue: EventQueueResource,
    alerts: AlertsResource,
) -> dg.Output[DeploymentResult]:
    """Makes the inference server serve the model's new champion, or compensates."""
    version = champion_model.version
    previous = champion_model.previous_version
    if not champion_model.alias_moved:
        serving = f"v{version}" if version else "no champion"
        context.log.info(
            f"{champion_model.decision}: the champion did not change ({serving} serves on); "
            "nothing to deploy"
        )
        return dg.Output(
            DeploymentResult(status="unchanged", version=version),
            metadata={
                "status": f"unchanged ({champion_model.decision})",
                "champion_version": version or "none",
            },
        )
    inference_server = inference_server.get_client()
    if not inference_server.configured:
        context.log.info("no inference server configured (MLOPS_SERVING_URL unset): skipped")
        return dg.Output(
            DeploymentResult(status="no_server", version=version),
            metadata={"status": "no server configured", "champion_version": version},
        )
    started = time.perf_counter()
    try:
        report = inference_server.deploy(
            version,
            f"deploy v{version} (run {context.run_id[:8]})",
            model.name,
            model.serving_route,
        )
    except DeploymentError as failure:
        moved = compensate(
            context,
            model_registry.get_client(model.registry_name),
            inference_server,
            version,
            previous,
            failure,
            event_queue.get_client(),
            alerts.get_client(),
            model,
        )
        raise dg.Failure(
            description=f"inference server did not serve v{version}: {failure}",
            metadata={
                "failed_version": version,
                "compensation": str(asdict(moved)) if moved else "none possible",
            },
        ) from failure
    seconds = round(time.perf_counter() - started, 3)
    context.log.info(f"{inference_server.url} serves v{version} ({report['status']}, {seconds} s)")
    return dg.Output(
        DeploymentResult(status="serving", version=version, previous_version=previous),
        metadata={
            "status": "serving",
            "serving_version": version,
            "previous_version": previous or "none",
            "server": dg.MetadataValue.url(f"{inference_server.url.rstrip('/')}/model"),
            "deploy_seconds": seconds,
        },
    )


def deployment_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/deployment`: the model's champion pushed to the inference server."""
    names = ModelNames(model.name)

    @dg.asset(
        key=names.deployment,
        ins={CHAMPION_MODEL: dg.AssetIn(names.champion_model)},
        # One run that moves @champion or the server at a time, whatever launched it.
        pool=REGISTRY_POOL,
        group_name=model.name,
        partitions_def=monthly_partitions,
        kinds={"fastapi"},
    )
    def deployment(
        context: dg.AssetExecutionContext,
        champion_model: ChampionChange,
        model_registry: RegistryResource,
        inference_server: InferenceServerResource,
        event_queue: EventQueueResource,
        alerts: AlertsResource,
    ) -> dg.Output[DeploymentResult]:
        """The champion in service: the inference server reloaded and answering with its
        version."""
        return deploy_champion(
            context, model, champion_model, model_registry, inference_server, event_queue, alerts
        )

    return deployment
