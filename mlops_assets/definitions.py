"""The one wiring module: builds resources from the settings and the Definitions object."""

import os
import shlex

import dagster as dg

from mlops_assets.backends import factory
from mlops_assets.backends.model_signing import key_file
from mlops_assets.constants import DEMO_MODEL, REPLAY_REPORT
from mlops_assets.contracts.fleet import SHIPPED_FLEET_FILE, load_fleet
from mlops_assets.graph.assets.dataset import SNAPSHOT_IO_MANAGER
from mlops_assets.graph.execution import step_executor
from mlops_assets.graph.model_graph import GraphOptions, fleet_definitions
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.retries import external_step_retry_policy
from mlops_assets.graph.snapshot_handoff import SnapshotHandoff
from mlops_assets.graph.step_values import FILESYSTEM, step_io_manager
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_server import InferenceServerResource
from mlops_assets.resources.object_store import ObjectStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.resources.tracking import mlflow_run_tracking
from mlops_assets.resources.trainer import TrainerResource
from mlops_assets.settings import Settings, reveal


def _secret(settings: Settings, field: str, variable: str) -> dg.EnvVar | None:
    # An EnvVar keeps the value out of the UI (it shows the variable's name); unset means off.
    return dg.EnvVar(variable) if getattr(settings, field) is not None else None


def monitor_config(settings: Settings) -> dict:
    """`MonitorConfig` overrides from the settings: only the documented variables that are set
    (MLOPS_MONITOR_*); every other value is the model spec's."""
    values = {
        "window_days": settings.monitor_window_days,
        "input_drift_threshold": settings.monitor_input_drift_threshold,
        "prediction_drift_threshold": settings.monitor_prediction_drift_threshold,
        "drift_alpha": settings.monitor_drift_alpha,
    }
    return {k: v for k, v in values.items() if v is not None}


def graph_options(settings: Settings) -> GraphOptions:
    """What the settings decide about every model's graph (the spec decides the rest)."""
    return GraphOptions(
        retry_policy=external_step_retry_policy(settings.retry_max_retries, settings.retry_delay_s),
        training_queue=settings.celery_training_queue,
        timezone=settings.schedule_timezone,
        min_new_labels=settings.min_new_labels,
        events_max_batch=settings.events_max_batch,
        events_max_seconds=settings.events_max_seconds,
        events_sensor_interval_s=settings.events_sensor_interval_s,
        monitor_sensor_interval_s=settings.monitor_sensor_interval_s,
        monitor_cron=settings.monitor_cron,
        monitor_overrides=monitor_config(settings),
        monitor_min_samples=settings.monitor_min_samples,
        monitor_cooldown_hours=settings.monitor_cooldown_hours,
    )


def from_environment(variable: str, value: str | None) -> str | dg.EnvVar | None:
    """A secret-bearing value as resource config: `dg.EnvVar` when it came from `variable`.

    Dagster then reads it when a run starts, and its UI (and every stored snapshot of the code
    location) shows the variable's name, never the value. An embedded default (no variable set)
    holds no secret and is passed as it is.
    """
    if value is not None and os.environ.get(variable) == value:
        return dg.EnvVar(variable)
    return value


def build_resources(settings: Settings) -> dict:
    """Builds every resource the assets, sensors and schedules ask for from one Settings object.

    Each resource hands out its backend through `get_client()`; `backends.factory` chooses
    the backend from the same values. Fields that may hold a password or token (the broker,
    database and tracking URLs, the admin token) are `dg.EnvVar`s when set in the environment.
    """
    tracking_uri = from_environment("MLFLOW_TRACKING_URI", settings.resolved_tracking_uri)
    object_store = ObjectStoreResource(
        url=settings.resolved_object_store_url,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
    )
    return {
        "data_store": DataStoreResource(
            url=from_environment("MLOPS_DATA_STORE_URL", settings.resolved_data_store_url),
            earliest_confirmed_at=settings.events_earliest_confirmed_at.isoformat(),
            max_clock_skew_s=settings.events_max_clock_skew_s,
        ),
        "event_queue": EventQueueResource(
            rabbitmq_url=from_environment("RABBITMQ_URL", settings.resolved_rabbitmq_url),
            sqlite_path=str(settings.resolved_event_queue_path),
            prefix=settings.event_queue_prefix,
        ),
        "object_store": object_store,
        SNAPSHOT_IO_MANAGER: SnapshotHandoff(
            object_store=object_store,
            step_values=settings.resolved_step_values_url or FILESYSTEM,
        ),
        "model_registry": RegistryResource(
            tracking_uri=tracking_uri,
            ui_url=settings.mlflow_ui_url,
            signing_key=from_environment(
                "MLOPS_MODEL_SIGNING_KEY", reveal(settings.model_signing_key)
            ),
            signing_key_file=str(key_file(settings.home_dir)),
            lock_url=from_environment(
                "MLOPS_REGISTRY_LOCK_URL", settings.resolved_registry_lock_url
            ),
        ),
        "inference_server": InferenceServerResource(
            url=settings.serving_url,
            timeout_s=settings.serving_timeout_s,
            admin_token=from_environment(
                "MLOPS_SERVING_ADMIN_TOKEN", settings.resolved_admin_token
            ),
        ),
        "trainer": TrainerResource(
            command=shlex.split(settings.trainer_command),
            trainers=settings.trainers,
            env_passthrough=settings.trainer_env,
            timeout_s=settings.trainer_timeout_s,
        ),
        "alerts": AlertsResource(
            sent_path=str(settings.resolved_alerts_path),
            slack_webhook_url=_secret(
                settings, "alert_slack_webhook_url", "MLOPS_ALERT_SLACK_WEBHOOK_URL"
            ),
            pagerduty_routing_key=_secret(
                settings, "alert_pagerduty_routing_key", "MLOPS_ALERT_PAGERDUTY_ROUTING_KEY"
            ),
            webhook_url=_secret(settings, "alert_webhook_url", "MLOPS_ALERT_WEBHOOK_URL"),
            pagerduty_url=settings.alert_pagerduty_url,
        ),
        "io_manager": step_io_manager(
            settings.resolved_step_values_url, settings.s3_endpoint_url, settings.s3_region
        ),
        "mlflow": mlflow_run_tracking.configured(
            {
                "experiment_name": settings.experiment,
                "mlflow_tracking_uri": (
                    {"env": tracking_uri.env_var_name}
                    if isinstance(tracking_uri, dg.EnvVar)
                    else tracking_uri
                ),
                "artifact_location": settings.resolved_artifact_location,
            }
        ),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    """Builds the code location for a given configuration (tests pass their own): every model
    of the fleet file (MLOPS_MODELS_FILE, default the shipped one) with its graph.

    Raises:
        FleetFileError: the fleet file is missing or invalid, or declares a model the factory
            cannot build; the message names the file, the model and the field.
    """
    fleet = factory.with_model_name(load_fleet(settings.models_file), settings)
    origin = str(settings.models_file or SHIPPED_FLEET_FILE)
    graphs = fleet_definitions(fleet, graph_options(settings), origin)
    replay_report = dg.AssetSpec(
        REPLAY_REPORT,
        deps=[ModelNames(DEMO_MODEL).champion_model],
        group_name=DEMO_MODEL,
        description="Month-by-month champion vs challenger table and plot, written by "
        "the two-year replay (`make demo`).",
    )
    wiring = dg.Definitions(
        assets=[replay_report] if DEMO_MODEL in fleet.names else [],
        resources=build_resources(settings),
        executor=build_executor(settings),
    )
    return dg.Definitions.merge(graphs, wiring)


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor of retrain_job and of asset materializations (MLOPS_EXECUTOR)."""
    broker: str | dict | None = None
    backend: str | dict = settings.resolved_celery_backend_url
    if settings.executor == "celery":
        broker = _env_config(
            settings.resolved_celery_broker_url, "MLOPS_CELERY_BROKER_URL", "RABBITMQ_URL"
        )
        backend = _env_config(backend, "MLOPS_CELERY_BACKEND_URL")
    step_values = settings.resolved_step_values_url or FILESYSTEM
    return step_executor(settings.executor, broker, backend, settings.celery_queue, step_values)


def _env_config(value: str, *variables: str) -> str | dict:
    """`value` as executor config: `{"env": VARIABLE}` when it came from one of `variables`.

    Like the resources' secrets (`from_environment`): a URL from the environment is read when
    the run starts, so the executor config the UI shows names the variable, not the password.
    """
    for variable in variables:
        if os.environ.get(variable) == value:
            return {"env": variable}
    return value


defs = build_definitions(Settings())


def retrain_job_for_workers(model: str = DEMO_MODEL) -> dg.JobDefinition:
    """The retraining job of the model called `model` in `defs`, for
    `dg.build_reconstructable_job`: runs whose steps go to other processes (Celery workers)
    name the job by this function and the model, and each worker loads it."""
    return defs.resolve_job_def(ModelNames(model).retrain_job)


def reconstructable_retrain_job(model: str = DEMO_MODEL):
    """The retraining job of `model` as a job other processes can load (Celery workers)."""
    return dg.build_reconstructable_job(
        __name__, retrain_job_for_workers.__name__, reconstructable_args=(model,)
    )
