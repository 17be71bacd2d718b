"""The factory: the one place where settings choose each backend."""

from datetime import UTC, datetime, timedelta

from mlops_assets.backends import factory
from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.rabbitmq_queue import RabbitMQQueue
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.backends.object_store import LocalObjectStore, S3ObjectStore
from mlops_assets.contracts.records import ConfirmedWindow
from mlops_assets.definitions import build_resources
from mlops_assets.settings import Settings


def test_settings_choose_the_object_store(tmp_path):
    local = factory.object_store(Settings(home=tmp_path))
    assert isinstance(local, LocalObjectStore) and local.root == str(tmp_path / "objects")
    s3 = factory.object_store(
        Settings(
            home=tmp_path,
            object_store_url="s3://bucket/some/prefix/",
            s3_endpoint_url="http://127.0.0.1:8333",
        )
    )
    assert isinstance(s3, S3ObjectStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "bucket",
        "some/prefix",
        "http://127.0.0.1:8333",
    )
    assert s3.uri("k.parquet") == "s3://bucket/some/prefix/k.parquet"


def test_settings_choose_the_event_queue(tmp_path):
    embedded = factory.event_queue(Settings(home=tmp_path, event_queue_prefix="dev."))
    assert isinstance(embedded, SqliteQueue)
    assert embedded.path == str(tmp_path.resolve() / "events.db")
    assert embedded.queue_name("task.confirmed") == "dev.task.confirmed"
    broker = factory.event_queue(
        Settings(home=tmp_path, rabbitmq_url="amqp://guest:guest@127.0.0.1:5672/%2F"),
        connect_attempts=1,
    )
    assert isinstance(broker, RabbitMQQueue)
    assert broker.connect_attempts == 1


def test_settings_choose_the_data_store_and_registry(tmp_path):
    store = factory.data_store(Settings(home=tmp_path))
    assert isinstance(store, TrainingDataStore)
    assert store.url == f"sqlite:///{tmp_path.resolve() / 'training_data.db'}"
    production = factory.data_store(
        Settings(home=tmp_path, data_store_url="postgresql+psycopg2://db/data")
    )
    assert production.url == "postgresql+psycopg2://db/data"
    registry = factory.registry(Settings(home=tmp_path, model_name="m"))
    assert registry.model_name == "m"
    assert registry.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_no_serving_url_gives_an_unconfigured_client(tmp_path):
    assert not factory.inference_server(Settings(home=tmp_path)).configured
    client = factory.inference_server(
        Settings(home=tmp_path, serving_url="http://127.0.0.1:8000", serving_admin_token="t")
    )
    assert client.configured and client.admin_token == "t"


def test_settings_give_the_data_store_its_confirmed_at_window(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_EVENTS_EARLIEST_CONFIRMED_AT", "2020-01-01T00:00:00Z")
    monkeypatch.setenv("MLOPS_EVENTS_MAX_CLOCK_SKEW_S", "60")
    settings = Settings(home=tmp_path)
    expected = ConfirmedWindow(datetime(2020, 1, 1, tzinfo=UTC), timedelta(seconds=60))
    assert factory.data_store(settings).window == expected
    resource = build_resources(settings)["data_store"]
    assert resource.get_client().window == expected
    monkeypatch.delenv("MLOPS_EVENTS_EARLIEST_CONFIRMED_AT")
    monkeypatch.delenv("MLOPS_EVENTS_MAX_CLOCK_SKEW_S")
    assert factory.data_store(Settings(home=tmp_path)).window == ConfirmedWindow()


def test_model_name_when_set_names_the_photo_model_for_graph_and_commands(tmp_path):
    """MLOPS_MODEL_NAME, when set, is task_photos' registered model for the graph (the fleet the
    definitions build) and the commands' registry alike; unset, the fleet file's name stands."""
    from mlops_assets.constants import PHOTO_MODEL
    from mlops_assets.contracts.fleet import load_fleet

    shipped = load_fleet(None).model(PHOTO_MODEL).registry_name
    unset = Settings(home=tmp_path)
    assert factory.registered_model_name(unset) == shipped
    assert factory.with_model_name(load_fleet(None), unset).model(PHOTO_MODEL).registry_name == (
        shipped
    )
    named = Settings(home=tmp_path, MLOPS_MODEL_NAME="photos-elsewhere")
    fleet = factory.with_model_name(load_fleet(None), named)
    assert fleet.model(PHOTO_MODEL).registry_name == "photos-elsewhere"
    others = [m.registry_name for m in fleet.models if m.name != PHOTO_MODEL]
    assert "photos-elsewhere" not in others
    assert factory.registry(named).model_name == "photos-elsewhere"


def test_each_model_gets_its_own_prediction_log_with_its_task_columns(tmp_path):
    from mlops_assets.contracts.fleet import load_fleet
    from mlops_assets.contracts.prediction_rows import PREDICTION_COLUMNS, VERIFICATION_COLUMNS

    fleet = load_fleet(None)
    settings = Settings(home=tmp_path)
    logs = {m.task: factory.prediction_log(settings, m) for m in fleet.models}
    assert logs["classification"].columns == PREDICTION_COLUMNS
    assert logs["verification"].columns == VERIFICATION_COLUMNS
    assert logs["verification"].model == next(
        m.name for m in fleet.models if m.task == "verification"
    )
    assert logs["classification"].store.root == str(tmp_path / "objects")
