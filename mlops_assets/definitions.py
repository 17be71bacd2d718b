"""The one wiring module: builds resources from the environment and the Definitions object."""

from urllib.parse import urlparse
from urllib.request import url2pathname

import dagster as dg

from mlops_assets.assets.dataset import training_data
from mlops_assets.assets.deployment import deployment
from mlops_assets.assets.promotion import champion_model
from mlops_assets.assets.training import trained_model
from mlops_assets.assets.verification import verification_report
from mlops_assets.checks import GATE_CHECKS, TRAINING_DATA_CHECKS
from mlops_assets.constants import CHAMPION_MODEL, RETRAINING_GROUP
from mlops_assets.jobs import retrain_job, rollback_champion_job
from mlops_assets.replay import REPLAY_REPORT
from mlops_assets.resources.data_store import TrainingDataStore
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.object_store import LocalObjectStore, ObjectStore, S3ObjectStore
from mlops_assets.resources.rabbitmq_queue import RabbitMQEventQueue
from mlops_assets.resources.registry import ModelRegistry
from mlops_assets.resources.serving_client import ServingClient
from mlops_assets.resources.sqlite_queue import SqliteEventQueue
from mlops_assets.resources.tracking import mlflow_run_tracking
from mlops_assets.schedules import nightly_retrain_schedule_for
from mlops_assets.sensors import (
    pipeline_failure_sensor,
    task_events_sensor_for,
    training_completed_sensor,
)
from mlops_assets.settings import Settings


def build_event_queue(settings: Settings) -> EventQueueResource:
    """RabbitMQ when RABBITMQ_URL is set, else the embedded SQLite queue."""
    if settings.rabbitmq_url:
        return RabbitMQEventQueue(url=settings.rabbitmq_url, prefix=settings.event_queue_prefix)
    return SqliteEventQueue(
        path=str(settings.resolved_event_queue_path), prefix=settings.event_queue_prefix
    )


def build_object_store(settings: Settings) -> ObjectStore:
    """The object store named by MLOPS_OBJECT_STORE_URL: s3://bucket/prefix or a folder."""
    url = settings.resolved_object_store_url
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3ObjectStore(
            bucket=bucket,
            prefix=prefix.strip("/"),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
    if url.startswith("file://"):
        url = url2pathname(urlparse(url).path)
    return LocalObjectStore(root=url)


def build_resources(settings: Settings) -> dict:
    """Builds every resource the assets ask for from one Settings object."""
    return {
        "data_store": TrainingDataStore(url=settings.resolved_data_store_url),
        "event_queue": build_event_queue(settings),
        "object_store": build_object_store(settings),
        "model_registry": ModelRegistry(
            tracking_uri=settings.resolved_tracking_uri,
            model_name=settings.model_name,
            ui_url=settings.mlflow_ui_url,
        ),
        "serving_client": ServingClient(
            url=settings.serving_url,
            timeout_s=settings.serving_timeout_s,
            admin_token=settings.serving_admin_token,
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
        asset_checks=[*TRAINING_DATA_CHECKS, *GATE_CHECKS],
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
