"""Shared fixtures: an isolated embedded configuration per test, and the demo data."""

import os
import uuid

import pytest

from mlops_assets.definitions import build_definitions, build_resources
from mlops_assets.demo.source import demo_tasks
from mlops_assets.settings import Settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Fixtures that start SeaweedFS and the MLflow server for the integration tier.
pytest_plugins = ["mlops_assets_tests.stack_fixtures"]


def service_missing(reason: str) -> None:
    """Fails under CI (the service must be there) and skips loudly on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: every service must be available)")
    pytest.skip(f"SERVICE MISSING: {reason}")


def embedded_settings(home, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded defaults under `home`, ignoring the environment.

    MLflow's `set_tracking_uri` (called by dagster-mlflow) exports MLFLOW_TRACKING_URI, so a
    previous run in this process would otherwise leak into the next configuration.
    """
    for name in list(os.environ):
        if name.startswith("MLOPS_") or name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("RABBITMQ_URL", raising=False)
    return Settings(home=home)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Embedded defaults under a temporary MLOPS_HOME, ignoring the caller's environment."""
    return embedded_settings(tmp_path / "var", monkeypatch)


@pytest.fixture
def resources(settings) -> dict:
    built = build_resources(settings)
    yield built
    built["data_store"].close()


@pytest.fixture
def definitions(settings):
    return build_definitions(settings)


@pytest.fixture(scope="session")
def demo_records():
    return demo_tasks()


@pytest.fixture
def seeded_store(resources, demo_records):
    store = resources["data_store"]
    store.insert(demo_records)
    return store


RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture(params=["sqlite", pytest.param("rabbitmq", marks=pytest.mark.integration)])
def queue_factory(request, tmp_path):
    """Makes event queue resources of one backend that share queues under a unique prefix.

    Each call is a new consumer/publisher (its own connection); all are closed afterwards and
    the test's queues are deleted.
    """
    from pika.exceptions import AMQPConnectionError

    from mlops_assets.contracts.events import (
        MODEL_EVENTS_QUEUE,
        PIPELINE_FAILED_QUEUE,
        TASK_CONFIRMED_QUEUE,
        TRAINING_COMPLETED_QUEUE,
    )
    from mlops_assets.resources.rabbitmq_queue import RabbitMQEventQueue
    from mlops_assets.resources.sqlite_queue import SqliteEventQueue

    prefix = f"test-{uuid.uuid4().hex[:10]}."
    made = []

    def make():
        if request.param == "sqlite":
            queue = SqliteEventQueue(path=str(tmp_path / "events.db"), prefix=prefix)
        else:
            queue = RabbitMQEventQueue(url=RABBITMQ_URL, prefix=prefix, connect_attempts=2)
            try:
                queue.open()
            except AMQPConnectionError as error:
                service_missing(f"RabbitMQ at {RABBITMQ_URL} does not answer: {error!r}")
        made.append(queue)
        return queue

    make.backend = request.param
    make.prefix = prefix
    yield make
    for queue in made:
        queue.close()
    if made:
        cleaner = made[0]
        for name in (
            TASK_CONFIRMED_QUEUE,
            TRAINING_COMPLETED_QUEUE,
            MODEL_EVENTS_QUEUE,
            PIPELINE_FAILED_QUEUE,
        ):
            cleaner.remove(name)
        cleaner.close()


@pytest.fixture
def source(tmp_path):
    """A model source with two tiny versions as local `.keras` files (serving tests)."""
    from mlops_assets_tests.serving_support import FolderSource, tiny_model

    source = FolderSource(tmp_path / "registry")
    source.add("1", tiny_model(1))
    source.add("2", tiny_model(2))
    return source
