"""The factory of the fleet's graphs: one `dg.Definitions` per model spec, built by its source
kind's builder, plus the sensors that serve several models (one per source queue, the
run-status pair), merged into the fleet's.

Asset factories returning `dg.Definitions` (Dagster's own pattern for "the same graph, many
times") rather than Components: the specs are already typed, validated data (`contracts.fleet`),
and the graph needs Python per task (checks, configs, sensors), which a component would wrap
without adding anything.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import dagster as dg

from mlops_assets.contracts.fleet import FleetFileError, FleetSpec
from mlops_assets.contracts.model_spec import ModelSpec, SourceKind
from mlops_assets.graph.assets.dataset import training_data_asset
from mlops_assets.graph.assets.deployment import deployment_asset
from mlops_assets.graph.assets.face_dataset import face_training_data_asset
from mlops_assets.graph.assets.face_monitoring import face_champion_monitor_asset
from mlops_assets.graph.assets.face_verification import face_verification_report_asset
from mlops_assets.graph.assets.monitoring import champion_monitor_asset
from mlops_assets.graph.assets.promotion import champion_model_asset
from mlops_assets.graph.assets.risk_dataset import risk_training_data_asset
from mlops_assets.graph.assets.risk_training import (
    risk_trained_model_asset,
    risk_verification_report_asset,
)
from mlops_assets.graph.assets.training import face_trained_model_asset, trained_model_asset
from mlops_assets.graph.assets.verification import verification_report_asset
from mlops_assets.graph.automation import automate
from mlops_assets.graph.checks import model_checks
from mlops_assets.graph.face_checks import face_model_checks
from mlops_assets.graph.jobs import monitor_job_for, retrain_job_for, rollback_job_for
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.outbox_sensor import champion_outbox_sensor_for
from mlops_assets.graph.retries import external_step_retry_policy
from mlops_assets.graph.risk_checks import risk_model_checks
from mlops_assets.graph.run_sensors import run_outcome_sensors
from mlops_assets.graph.schedules import monitor_schedule_for
from mlops_assets.graph.sensors import champion_monitor_sensor_for
from mlops_assets.graph.source_sensors import event_source_sensor_for, source_for
from mlops_assets.retraining.monitor_policy import MonitorPolicy


@dataclass(frozen=True)
class GraphOptions:
    """What the deployment (the settings), not the model spec, decides about every graph."""

    retry_policy: dg.RetryPolicy = field(default_factory=external_step_retry_policy)
    training_queue: str = "training"
    timezone: str = "UTC"
    min_new_labels: int = 200
    events_max_batch: int = 5000
    events_max_seconds: float = 20.0
    events_sensor_interval_s: int = 30
    monitor_sensor_interval_s: int = 300
    # Overrides of every model's monitor settings (documented variables); None: the spec's.
    monitor_cron: str | None = None
    monitor_overrides: dict = field(default_factory=dict)
    monitor_min_samples: int | None = None
    monitor_cooldown_hours: float | None = None


def monitor_policy(model: ModelSpec, options: GraphOptions) -> MonitorPolicy:
    """The monitor sensor's target (the spec's monitor target), minimum sample and cooldown."""
    monitor = model.monitor
    samples = options.monitor_min_samples
    hours = options.monitor_cooldown_hours
    return MonitorPolicy(
        target_accuracy=monitor.target_value,
        min_samples=monitor.min_samples if samples is None else samples,
        cooldown=timedelta(hours=monitor.cooldown_hours if hours is None else hours),
    )


def _graph(
    model: ModelSpec,
    options: GraphOptions,
    assets: list[dg.AssetsDefinition],
    checks: list[dg.AssetChecksDefinition],
    monitor_sensor: bool,
    monitor: bool = True,
) -> dg.Definitions:
    """A model's assets in its group with their checks, its jobs, the monitor schedule, and the
    sensors that serve it alone (the champion's outbox; the monitor sensor when its task's
    monitor feeds one). Without `monitor` (no champion_monitor asset) there is no monitor job
    or schedule."""
    retrain_job = retrain_job_for(model)
    sensors = [champion_outbox_sensor_for(model)]
    if monitor_sensor:
        policy = monitor_policy(model, options)
        interval = options.monitor_sensor_interval_s
        sensors.insert(0, champion_monitor_sensor_for(model, retrain_job, policy, interval))
    jobs = [retrain_job, rollback_job_for(model)]
    schedules = []
    if monitor:
        monitor_job = monitor_job_for(model)
        jobs.insert(1, monitor_job)
        schedules.append(
            monitor_schedule_for(
                model,
                monitor_job,
                options.timezone,
                options.monitor_overrides,
                options.monitor_cron,
            )
        )
    return dg.Definitions(
        assets=assets, asset_checks=checks, jobs=jobs, schedules=schedules, sensors=sensors
    )


def classification_graph(
    model: ModelSpec, options: GraphOptions, fleet: FleetSpec | None = None
) -> dg.Definitions:
    """The photo-classifier graph of one classification model."""
    assets = [
        training_data_asset(model, options.retry_policy),
        trained_model_asset(model, options.retry_policy, options.training_queue),
        verification_report_asset(model),
        champion_model_asset(model),
        deployment_asset(model),
        champion_monitor_asset(model),
    ]
    return _graph(model, options, assets, model_checks(model), monitor_sensor=True)


def verification_graph(
    model: ModelSpec, options: GraphOptions, fleet: FleetSpec | None = None
) -> dg.Definitions:
    """The face-verifier graph of one verification model: the face snapshot split by identity,
    the spec's trainer, the verifiers judged on unseen identities, the same champion moves and
    deployment as a classifier, and a monitor of TAR and score drift on registered faces.

    Its monitor report is not the classifier's, so no monitor sensor acts on it (yet): its
    checks warn.
    """
    assets = [
        face_training_data_asset(model, options.retry_policy),
        face_trained_model_asset(model, options.retry_policy, options.training_queue),
        face_verification_report_asset(model),
        champion_model_asset(model),
        deployment_asset(model),
        face_champion_monitor_asset(model),
    ]
    return _graph(model, options, assets, face_model_checks(model), monitor_sensor=False)


def upstream_models_graph(
    model: ModelSpec, options: GraphOptions, fleet: FleetSpec | None = None
) -> dg.Definitions:
    """The graph of a model whose features come from upstream models' champions (the
    confirmation-risk model): its training_data depends on each upstream's champion_model and
    reads their champions, `risk_logistic` trains, the classification gates and paired rule
    judge, the same champion moves and deployment follow.

    It has no champion_monitor (so no monitor job, schedule or monitor sensor): the served
    risk scores have no confirmed outcome to judge them on yet.

    Raises:
        FleetFileError: no fleet given to find the upstream models in.
    """
    if fleet is None:
        raise FleetFileError(
            f"model {model.name!r}, field upstream: an upstream_models graph is built from the "
            "fleet that declares its upstream models"
        )
    upstream = [fleet.model(name) for name in model.upstream]
    assets = [
        risk_training_data_asset(model, upstream, options.retry_policy),
        risk_trained_model_asset(model, options.retry_policy, options.training_queue),
        risk_verification_report_asset(model),
        champion_model_asset(model),
        deployment_asset(model),
    ]
    return _graph(
        model, options, assets, risk_model_checks(model), monitor_sensor=False, monitor=False
    )


Builder = Callable[[ModelSpec, GraphOptions, FleetSpec | None], dg.Definitions]
# One builder per source kind (the source decides the data, hence the whole graph); a model
# whose source has none fails the load.
BUILDERS: dict[SourceKind, Builder] = {
    "task_photos": classification_graph,
    "face_vectors": verification_graph,
    "upstream_models": upstream_models_graph,
}


def model_definitions(
    model: ModelSpec, options: GraphOptions, fleet: FleetSpec | None = None
) -> dg.Definitions:
    """The graph of one model, by its source kind's builder.

    Args:
        model: the model's spec.
        options: the deployment's choices.
        fleet: the fleet it belongs to (an upstream_models model's upstream specs are there).

    Raises:
        FleetFileError: no builder for the model's source kind.
    """
    builder = BUILDERS.get(model.source.kind)
    if builder is None:
        raise FleetFileError(
            f"model {model.name!r}, field source.kind: no graph builder for {model.source.kind} "
            f"sources ({model.task} models) yet; known sources: {', '.join(BUILDERS)}"
        )
    return builder(model, options, fleet)


def fleet_definitions(fleet: FleetSpec, options: GraphOptions, origin: str) -> dg.Definitions:
    """Every model's graph merged, with one replication sensor per source queue and the
    run-status sensors.

    Args:
        fleet: the loaded fleet.
        options: the deployment's choices.
        origin: the fleet file, named in a load error.

    Raises:
        FleetFileError: a model the factory cannot build; the message names `origin`.
    """
    try:
        graphs = [model_definitions(model, options, fleet) for model in fleet.models]
    except FleetFileError as error:
        raise FleetFileError(f"fleet file {origin}: {error}") from None
    # The sensors target the very job objects the graphs hold (one definition per name).
    retrain_jobs = {
        model.name: _job(graph, ModelNames(model.name).retrain_job)
        for model, graph in zip(fleet.models, graphs, strict=True)
    }
    # One sensor per source queue, requesting the retraining of every model it feeds.
    sources: dict[tuple[str, str], list[ModelSpec]] = {}
    for model in fleet.models:
        if model.source.queue is not None:
            sources.setdefault((model.source.kind, model.source.queue), []).append(model)
    shared = dg.Definitions(
        sensors=[
            *(
                event_source_sensor_for(
                    source_for(kind, queue),
                    models,
                    [retrain_jobs[m.name] for m in models],
                    min_new=options.min_new_labels,
                    max_messages=options.events_max_batch,
                    max_seconds=options.events_max_seconds,
                    interval_s=options.events_sensor_interval_s,
                )
                for (kind, queue), models in sources.items()
            ),
            *run_outcome_sensors(fleet.models),
        ]
    )
    # Conditions and automation sensors are added here, not by each builder: every task's
    # chain has the same stages, and the upstream links are the fleet's.
    return automate(dg.Definitions.merge(*graphs, shared), fleet.models, options.timezone)


def _job(definitions: dg.Definitions, name: str):
    for job in definitions.jobs or []:
        if job.name == name:
            return job
    raise KeyError(f"the graph builder made no job {name!r}")
