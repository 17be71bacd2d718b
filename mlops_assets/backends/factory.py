"""Builds every backend object from the settings: the one place where a backend is chosen.

The Dagster resources (`mlops_assets.resources`), the command line, the inference server and
the demo all get their backends here, so the choice between the embedded default and the
production backend (SQLite or RabbitMQ, a folder or S3, SQLite or PostgreSQL) is made once.
Each `*_for` function takes the plain values (what a resource's fields hold); the function named
after the backend reads them from the settings. No dagster import.
"""

from datetime import datetime, timedelta
from urllib.parse import urlparse
from urllib.request import url2pathname

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.backends.inference_server import InferenceServerClient
from mlops_assets.backends.model_signing import ModelSigner, key_file
from mlops_assets.backends.notifier import Notifier
from mlops_assets.backends.object_store import LocalObjectStore, ObjectStore, S3ObjectStore
from mlops_assets.backends.prediction_log import PredictionLog
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.constants import PHOTO_MODEL
from mlops_assets.contracts.fleet import FleetSpec, load_fleet
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.prediction_rows import columns_for
from mlops_assets.contracts.records import ConfirmedWindow
from mlops_assets.settings import Settings, SharedSettings, reveal


def event_queue_for(
    rabbitmq_url: str | None,
    sqlite_path: str,
    prefix: str = "",
    connect_attempts: int | None = None,
) -> EventQueue:
    """RabbitMQ when a broker URL is given, else the embedded SQLite queue.

    Args:
        rabbitmq_url: the broker (RABBITMQ_URL); None selects the embedded SQLite queue.
        sqlite_path: the embedded queue's file.
        prefix: prefix of every queue name.
        connect_attempts: RabbitMQ only: connection attempts before giving up (default: the
            backend's own).
    """
    if rabbitmq_url:
        # Imported here: pika is needed only with a broker.
        from mlops_assets.backends.event_queue.rabbitmq_queue import RabbitMQQueue

        options = {} if connect_attempts is None else {"connect_attempts": connect_attempts}
        return RabbitMQQueue(rabbitmq_url, prefix=prefix, **options)
    from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue

    return SqliteQueue(sqlite_path, prefix=prefix)


def event_queue(settings: SharedSettings, connect_attempts: int | None = None) -> EventQueue:
    """The event queue the settings select (one connection; close it when done)."""
    return event_queue_for(
        settings.resolved_rabbitmq_url,
        str(settings.resolved_event_queue_path),
        settings.event_queue_prefix,
        connect_attempts,
    )


def object_store_for(
    url: str, endpoint_url: str | None = None, region: str = "us-east-1"
) -> ObjectStore:
    """S3 for `s3://bucket/prefix`, else a local folder (a path or a `file://` URL).

    Args:
        url: where the objects live.
        endpoint_url: S3 only: the endpoint (SeaweedFS, MinIO); None means AWS.
        region: S3 only: the region used to sign requests.
    """
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3ObjectStore(
            bucket=bucket, prefix=prefix.strip("/"), endpoint_url=endpoint_url, region=region
        )
    if url.startswith("file://"):
        url = url2pathname(urlparse(url).path)
    return LocalObjectStore(root=url)


def object_store(settings: SharedSettings) -> ObjectStore:
    """The object store named by MLOPS_OBJECT_STORE_URL (default a folder under MLOPS_HOME)."""
    return object_store_for(
        settings.resolved_object_store_url, settings.s3_endpoint_url, settings.s3_region
    )


def prediction_log_for(store: ObjectStore, model: ModelSpec) -> PredictionLog:
    """A fleet model's served-prediction log in `store`, with its task's columns."""
    return PredictionLog(store, model.name, columns_for(model.task))


def prediction_log(settings: SharedSettings, model: ModelSpec) -> PredictionLog:
    """A fleet model's served-prediction log in the settings' object store."""
    return prediction_log_for(object_store(settings), model)


def data_store_for(
    url: str, earliest_confirmed_at: str, max_clock_skew_s: float
) -> TrainingDataStore:
    """The training data store at `url`, accepting `confirmed_at` from `earliest_confirmed_at`
    (ISO 8601 with timezone) to now plus `max_clock_skew_s`."""
    window = ConfirmedWindow(
        earliest=datetime.fromisoformat(earliest_confirmed_at),
        max_skew=timedelta(seconds=max_clock_skew_s),
    )
    return TrainingDataStore(url, window)


def data_store(settings: Settings) -> TrainingDataStore:
    """The training data store at MLOPS_DATA_STORE_URL (default SQLite under MLOPS_HOME)."""
    return data_store_for(
        settings.resolved_data_store_url,
        settings.events_earliest_confirmed_at.isoformat(),
        settings.events_max_clock_skew_s,
    )


def model_signer(settings: SharedSettings) -> ModelSigner:
    """Signs and verifies versions with MLOPS_MODEL_SIGNING_KEY, else MLOPS_HOME's key file."""
    return ModelSigner(reveal(settings.model_signing_key), key_file(settings.home_dir))


def with_model_name(fleet: FleetSpec, settings: Settings) -> FleetSpec:
    """The fleet with MLOPS_MODEL_NAME, when set, as the photo model's registered model name;
    unset, the fleet file's `registry_name` stands. The graph, the server and the commands read
    the name from here, so they agree."""
    if "model_name" not in settings.model_fields_set or PHOTO_MODEL not in fleet.names:
        return fleet
    models = [
        m.model_copy(update={"registry_name": settings.model_name}) if m.name == PHOTO_MODEL else m
        for m in fleet.models
    ]
    return fleet.model_copy(update={"models": models})


def registered_model_name(settings: Settings) -> str:
    """The photo model's registered model: MLOPS_MODEL_NAME when set, else the fleet file's."""
    fleet = with_model_name(load_fleet(settings.models_file), settings)
    if PHOTO_MODEL in fleet.names:
        return fleet.model(PHOTO_MODEL).registry_name
    return settings.model_name


def registry(settings: Settings) -> RegistryClient:
    """The photo model's registry on the tracking URI (default SQLite under MLOPS_HOME)."""
    return RegistryClient(
        settings.resolved_tracking_uri,
        registered_model_name(settings),
        settings.mlflow_ui_url,
        model_signer(settings),
        settings.resolved_registry_lock_url,
    )


def inference_server(settings: Settings) -> InferenceServerClient:
    """The inference server at MLOPS_SERVING_URL; unset gives a client that is not configured."""
    return InferenceServerClient(
        settings.serving_url, settings.serving_timeout_s, settings.resolved_admin_token
    )


def notifier(settings: Settings) -> Notifier:
    """The alert notifier the settings configure (channels off when their variable is unset)."""

    def secret(value) -> str | None:
        return value.get_secret_value() if value is not None else None

    return Notifier(
        settings.resolved_alerts_path,
        secret(settings.alert_slack_webhook_url),
        secret(settings.alert_pagerduty_routing_key),
        secret(settings.alert_webhook_url),
        settings.alert_pagerduty_url,
    )
