"""The one wiring module: builds resources from the settings and the Definitions object."""

import shlex

import dagster as dg

from mlops_assets.constants import CHAMPION_MODEL, REPLAY_REPORT, RETRAINING_GROUP
from mlops_assets.graph.assets.dataset import training_data
from mlops_assets.graph.assets.deployment import deployment
from mlops_assets.graph.assets.promotion import champion_model
from mlops_assets.graph.assets.training import trained_model
from mlops_assets.graph.assets.verification import verification_report
from mlops_assets.graph.checks import CHAMPION_CHECKS, GATE_CHECKS, TRAINING_DATA_CHECKS
from mlops_assets.graph.jobs import retrain_job, rollback_champion_job
from mlops_assets.graph.schedules import nightly_retrain_schedule_for
from mlops_assets.graph.sensors import (
    pipeline_failure_sensor,
    task_events_sensor_for,
    training_completed_sensor,
)
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_client import InferenceClientResource
from mlops_assets.resources.object_store import ObjectStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.resources.tracking import mlflow_run_tracking
from mlops_assets.resources.trainer import TrainerResource
from mlops_assets.settings import Settings


def build_resources(settings: Settings) -> dict:
    """Builds every resource the assets, sensors and schedules ask for from one Settings object.

    Each resource hands out its backend through `get_client()`; `backends.factory` chooses
    the backend from the same values.
    """
    return {
        "data_store": DataStoreResource(
            url=settings.resolved_data_store_url,
            earliest_confirmed_at=settings.events_earliest_confirmed_at.isoformat(),
            max_clock_skew_s=settings.events_max_clock_skew_s,
        ),
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
        "trainer": TrainerResource(
            command=shlex.split(settings.trainer_command),
            timeout_s=settings.trainer_timeout_s,
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
            dg.AssetSpec(
                REPLAY_REPORT,
                deps=[CHAMPION_MODEL],
                group_name=RETRAINING_GROUP,
                description="Month-by-month champion vs challenger table and plot, written by "
                "the two-year replay (`make demo`).",
            ),
        ],
        asset_checks=[*TRAINING_DATA_CHECKS, *GATE_CHECKS, *CHAMPION_CHECKS],
        jobs=[retrain_job, rollback_champion_job],
        schedules=[nightly_retrain_schedule_for(settings.schedule_timezone)],
        sensors=[
            task_events_sensor_for(
                settings.min_new_labels,
                settings.events_max_batch,
                settings.events_max_seconds,
                settings.events_sensor_interval_s,
            ),
            training_completed_sensor,
            pipeline_failure_sensor,
        ],
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings())
