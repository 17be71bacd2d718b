"""Shared fixtures: an isolated embedded configuration per test, its backends, the demo data and
event queues of both backends. Helpers and service starters live in `support/`."""

import os
import uuid
from types import SimpleNamespace

import pytest

from mlops_assets.backends import factory
from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    PIPELINE_FAILED_QUEUE,
    TASK_CONFIRMED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
)
from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE
from mlops_assets.definitions import build_definitions, build_resources
from mlops_assets.demo.source import demo_tasks
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.settings import Settings
from mlops_assets_tests.support.services import RABBITMQ_URL, embedded_settings, service_missing

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A step that fails in a test is retried at once, not after the production 5, 10, 15 minutes;
# test processes and the runs and workers they start read the same variable.
os.environ.setdefault("MLOPS_RETRY_DELAY_S", "0")

# Fixtures that start SeaweedFS and the MLflow server for the integration tier.
pytest_plugins = ["mlops_assets_tests.support.stack_fixtures"]


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri(monkeypatch):
    """MLflow's `set_tracking_uri` (called by dagster-mlflow in every in-process run) exports
    MLFLOW_TRACKING_URI: without this, the next test's settings would read the previous test's
    registry."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Embedded defaults under a temporary MLOPS_HOME, ignoring the caller's environment."""
    return embedded_settings(tmp_path / "var", monkeypatch)


@pytest.fixture
def resources(settings) -> dict:
    """The Dagster resources `definitions.py` builds from `settings`."""
    return build_resources(settings)


@pytest.fixture
def backends(settings):
    """The plain backend objects of `settings` (the same stores the resources use)."""
    built = SimpleNamespace(
        data_store=factory.data_store(settings),
        event_queue=factory.event_queue(settings),
        object_store=factory.object_store(settings),
        registry=factory.registry(settings),
    )
    yield built
    built.event_queue.close()
    built.data_store.close()


@pytest.fixture
def definitions(settings):
    return build_definitions(settings)


@pytest.fixture(scope="session")
def demo_records():
    return demo_tasks()


@pytest.fixture
def seeded_store(backends, demo_records):
    backends.data_store.insert(demo_records)
    return backends.data_store


@pytest.fixture(params=["sqlite", pytest.param("rabbitmq", marks=pytest.mark.integration)])
def queue_factory(request, tmp_path):
    """Makes event queues of one backend that share queues under a unique prefix.

    Each call is a new consumer/publisher (its own connection); all are closed afterwards and
    the test's queues are deleted. `queue_factory.resource()` is the Dagster resource over the
    same queues, for sensors and assets.
    """
    from pika.exceptions import AMQPConnectionError

    prefix = f"test-{uuid.uuid4().hex[:10]}."
    rabbitmq_url = RABBITMQ_URL if request.param == "rabbitmq" else None
    sqlite_path = str(tmp_path / "events.db")
    made = []

    def make():
        queue = factory.event_queue_for(rabbitmq_url, sqlite_path, prefix, connect_attempts=2)
        try:
            queue.open()
        except AMQPConnectionError as error:
            service_missing(f"RabbitMQ at {RABBITMQ_URL} does not answer: {error!r}")
        made.append(queue)
        return queue

    def resource() -> EventQueueResource:
        return EventQueueResource(
            rabbitmq_url=rabbitmq_url, sqlite_path=sqlite_path, prefix=prefix, connect_attempts=2
        )

    make.backend = request.param
    make.prefix = prefix
    make.location = RABBITMQ_URL if rabbitmq_url else sqlite_path
    make.resource = resource
    yield make
    for queue in made:
        queue.close()
    if made:
        cleaner = make()
        for name in (
            TASK_CONFIRMED_QUEUE,
            TRAINING_COMPLETED_QUEUE,
            MODEL_EVENTS_QUEUE,
            PIPELINE_FAILED_QUEUE,
            FACE_REGISTERED_QUEUE,
        ):
            cleaner.remove(name)
        cleaner.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def any_store(request, tmp_path):
    """The training data store on SQLite, and on PostgreSQL in the integration tier."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("data_store_database")
    store = TrainingDataStore(url)
    yield store
    store.close()


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A model source with two tiny versions as local `.keras` files (serving tests).

    MLOPS_HOME points into the test's folder, so the server's prediction log lands there.
    """
    from mlops_assets_tests.support.serving import FolderSource, tiny_model

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "var"))

    source = FolderSource(tmp_path / "registry")
    source.add("1", tiny_model(1))
    source.add("2", tiny_model(2))
    return source
