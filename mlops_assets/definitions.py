"""The one wiring module: builds resources from the settings and the Definitions object."""

from datetime import timedelta

import dagster as dg

from mlops_assets.constants import CHAMPION_MODEL, MIN_ACCURACY, REPLAY_REPORT, RETRAINING_GROUP
from mlops_assets.graph.assets.dataset import training_data
from mlops_assets.graph.assets.deployment import deployment
from mlops_assets.graph.assets.monitoring import champion_monitor
from mlops_assets.graph.assets.promotion import champion_model
from mlops_assets.graph.assets.training import trained_model
from mlops_assets.graph.assets.verification import verification_report
from mlops_assets.graph.checks import (
    CHAMPION_CHECKS,
    GATE_CHECKS,
    MONITOR_CHECKS,
    TRAINING_DATA_CHECKS,
)
from mlops_assets.graph.jobs import monitor_job, retrain_job, rollback_champion_job
from mlops_assets.graph.schedules import (
    champion_monitor_schedule_for,
    nightly_retrain_schedule_for,
)
from mlops_assets.graph.sensors import (
    champion_health_sensor_for,
    pipeline_failure_sensor,
    task_events_sensor_for,
    training_completed_sensor,
)
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_client import InferenceClientResource
from mlops_assets.resources.object_store import ObjectStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.resources.tracking import mlflow_run_tracking
from mlops_assets.retraining.health import HealthPolicy
from mlops_assets.settings import Settings


def _secret(settings: Settings, field: str, variable: str) -> dg.EnvVar | None:
    # An EnvVar keeps the value out of the UI (it shows the variable's name); unset means off.
    return dg.EnvVar(variable) if getattr(settings, field) is not None else None


def monitor_config(settings: Settings) -> dict:
    """champion_monitor's run config from the settings (window and thresholds)."""
    return {
        "window_days": settings.monitor_window_days,
        "input_drift_threshold": settings.monitor_input_drift_threshold,
        "prediction_drift_threshold": settings.monitor_prediction_drift_threshold,
        "drift_alpha": settings.monitor_drift_alpha,
    }


def health_policy(settings: Settings) -> HealthPolicy:
    """champion_health_sensor's target, minimum sample and cooldown."""
    return HealthPolicy(
        target_accuracy=MIN_ACCURACY,
        min_samples=settings.health_min_samples,
        cooldown=timedelta(hours=settings.health_cooldown_hours),
    )


def build_resources(settings: Settings) -> dict:
    """Builds every resource the assets, sensors and schedules ask for from one Settings object.

    Each resource hands out its backend through `get_client()`; `backends.factory` chooses
    the backend from the same values.
    """
    return {
        "data_store": DataStoreResource(url=settings.resolved_data_store_url),
        "event_queue": EventQueueResource(
            rabbitmq_url=settings.rabbitmq_url,
            sqlite_path=str(settings.resolved_event_queue_path),
            prefix=settings.event_queue_prefix,
        ),
        "object_store": ObjectStoreResource(
            url=settings.resolved_object_store_url,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        ),
        "model_registry": RegistryResource(
            tracking_uri=settings.resolved_tracking_uri,
            model_name=settings.model_name,
            ui_url=settings.mlflow_ui_url,
        ),
        "serving_client": InferenceClientResource(
            url=settings.serving_url,
            timeout_s=settings.serving_timeout_s,
            admin_token=settings.serving_admin_token,
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
        "mlflow": mlflow_run_tracking.configured(
            {
                "experiment_name": settings.experiment,
                "mlflow_tracking_uri": settings.resolved_tracking_uri,
                "artifact_location": settings.resolved_artifact_location,
            }
        ),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    """Builds the code location for a given configuration (tests pass their own)."""
    return dg.Definitions(
        assets=[
            training_data,
            trained_model,
            verification_report,
            champion_model,
            deployment,
            champion_monitor,
            dg.AssetSpec(
                REPLAY_REPORT,
                deps=[CHAMPION_MODEL],
                group_name=RETRAINING_GROUP,
                description="Month-by-month champion vs challenger table and plot, written by "
                "the two-year replay (`make demo`).",
            ),
        ],
        asset_checks=[*TRAINING_DATA_CHECKS, *GATE_CHECKS, *CHAMPION_CHECKS, *MONITOR_CHECKS],
        jobs=[retrain_job, monitor_job, rollback_champion_job],
        schedules=[
            nightly_retrain_schedule_for(settings.schedule_timezone),
            champion_monitor_schedule_for(
                settings.monitor_cron, settings.schedule_timezone, monitor_config(settings)
            ),
        ],
        sensors=[
            task_events_sensor_for(
                settings.min_new_labels,
                settings.events_max_batch,
                settings.events_max_seconds,
                settings.events_sensor_interval_s,
            ),
            training_completed_sensor,
            pipeline_failure_sensor,
            champion_health_sensor_for(health_policy(settings), settings.health_sensor_interval_s),
        ],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings())
