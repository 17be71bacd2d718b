"""Push: the subscriber turns model events on the real queue backends into reloader wake-ups."""

import subprocess
import sys
import threading
import time
import uuid

import pytest
from pika.exceptions import AMQPConnectionError

from mlops_assets.backends.event_queue.rabbitmq_queue import RabbitMQQueue
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    InvalidEvent,
    ModelPromoted,
    ModelRolledBack,
    PipelineFailed,
)
from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.push import (
    ModelEventSubscriber,
    model_event_queue,
    parse_model_event,
)
from mlops_assets_tests.support.services import RABBITMQ_URL, service_missing

MODEL = "served-model"


class Notifications:
    """Collects `notify` reasons from the subscriber thread; `wait_for` blocks boundedly."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.arrived = threading.Condition()

    def __call__(self, reason: str) -> None:
        with self.arrived:
            self.reasons.append(reason)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[str]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.reasons) >= count, timeout_s)
            return list(self.reasons)


@pytest.fixture(params=["sqlite", pytest.param("rabbitmq", marks=pytest.mark.integration)])
def make_queue(request, tmp_path):
    """Makes plain queue objects of one backend sharing queues under a unique prefix.

    `make_queue.publisher` is one of them, already open, for the test's side.
    """
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    made = []

    def make():
        if request.param == "sqlite":
            queue = SqliteQueue(str(tmp_path / "events.db"), prefix=prefix)
        else:
            queue = RabbitMQQueue(RABBITMQ_URL, prefix=prefix, connect_attempts=2)
        made.append(queue)
        return queue

    make.backend = request.param
    # Opened before any subscriber starts: two connections that find a new SQLite file at the
    # same moment may race to switch it to WAL, and the loser gets "database is locked".
    make.publisher = publisher = make()
    try:
        publisher.open()
    except AMQPConnectionError as error:
        service_missing(f"RabbitMQ at {RABBITMQ_URL} does not answer: {error!r}")
    yield make
    publisher.remove(MODEL_EVENTS_QUEUE)
    for queue in made:
        queue.close()


@pytest.fixture
def subscribed(make_queue):
    """A running subscriber for MODEL on the backend; closed (and joined) by the test or after."""
    notifications = Notifications()
    subscriber = ModelEventSubscriber(make_queue, MODEL, notifications, interval_s=0.05)
    subscriber.start()
    yield subscriber, notifications
    subscriber.close()


def promoted(version: str, model: str = MODEL) -> ModelPromoted:
    return ModelPromoted(model_name=model, version=version, previous_version="1", reason="test")


def dead_letters(queue, expected: int) -> list:
    # RabbitMQ moves a rejected message to the dead-letter queue on its own time.
    deadline = time.monotonic() + 30
    while len(letters := queue.dead_letters(MODEL_EVENTS_QUEUE)) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return letters


def test_push_and_the_plain_queues_import_no_dagster():
    code = (
        "import sys, mlops_assets.serving.push, mlops_assets.backends.event_queue.sqlite_queue,"
        " mlops_assets.backends.event_queue.rabbitmq_queue; sys.exit('dagster' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_parse_model_event_reads_either_model_event_and_refuses_others():
    rolled_back = ModelRolledBack(model_name=MODEL, version="1", previous_version="2")
    assert parse_model_event(rolled_back.to_json()) == rolled_back
    promotion = promoted("2")
    assert parse_model_event(promotion.to_json()) == promotion
    failed = PipelineFailed(run_id="r", job_name="j", error="boom")
    with pytest.raises(InvalidEvent, match="event_type 'PipelineFailed'"):
        parse_model_event(failed.to_json())
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_model_event(b"{")


def test_a_promotion_notifies_then_is_acked(make_queue, subscribed):
    subscriber, notifications = subscribed
    publisher = make_queue.publisher
    publisher.publish(MODEL_EVENTS_QUEUE, [promoted("2")])

    assert notifications.wait_for(1) == ["ModelPromoted v2"]
    # close joins the thread, which acks what it notified for before it stops; an unacked
    # message would be back in the queue once the subscriber's connection is closed.
    subscriber.close()
    assert publisher.depth(MODEL_EVENTS_QUEUE) == 0
    assert publisher.dead_letters(MODEL_EVENTS_QUEUE) == []


def test_a_rollback_notifies_and_other_models_events_are_dropped(make_queue, subscribed):
    subscriber, notifications = subscribed
    publisher = make_queue.publisher
    rollback = ModelRolledBack(model_name=MODEL, version="1", previous_version="2")
    publisher.publish(MODEL_EVENTS_QUEUE, [promoted("7", model="another-model"), rollback])

    assert notifications.wait_for(1) == ["ModelRolledBack v1"]
    subscriber.close()
    assert notifications.reasons == ["ModelRolledBack v1"]
    assert publisher.depth(MODEL_EVENTS_QUEUE) == 0


def test_an_invalid_body_is_dead_lettered_with_its_reason(make_queue, subscribed):
    subscriber, notifications = subscribed
    publisher = make_queue.publisher
    publisher.publish_bodies(MODEL_EVENTS_QUEUE, [b"not json", promoted("3").to_json()])

    assert notifications.wait_for(1) == ["ModelPromoted v3"]
    subscriber.close()
    [letter] = dead_letters(publisher, 1)
    assert letter.body == b"not json"
    assert letter.reason.startswith("not JSON")
    assert publisher.depth(MODEL_EVENTS_QUEUE) == 0


def test_the_subscriber_outlives_a_queue_that_fails(tmp_path):
    notifications = Notifications()
    attempts = []

    def flaky_queue():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("broker not up yet")
        return SqliteQueue(str(tmp_path / "events.db"))

    publisher = SqliteQueue(str(tmp_path / "events.db"))
    publisher.open()
    subscriber = ModelEventSubscriber(flaky_queue, MODEL, notifications, 0.05, retry_s=0.05)
    subscriber.start()
    try:
        publisher.publish(MODEL_EVENTS_QUEUE, [promoted("4")])
        assert notifications.wait_for(1) == ["ModelPromoted v4"]
    finally:
        subscriber.close()
        publisher.close()
    assert len(attempts) == 2


def test_the_queue_follows_the_pipelines_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("RABBITMQ_URL", raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.setenv("MLOPS_EVENT_QUEUE_PREFIX", "staging.")
    embedded = model_event_queue(ServingSettings())
    assert isinstance(embedded, SqliteQueue)
    assert embedded.path == str(tmp_path.resolve() / "events.db")
    assert embedded.queue_name(MODEL_EVENTS_QUEUE) == "staging.model.events"

    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@broker:5672/%2F")
    broker = model_event_queue(ServingSettings())
    assert isinstance(broker, RabbitMQQueue)
    assert broker.url == "amqp://guest:guest@broker:5672/%2F"
    assert broker.queue_name(MODEL_EVENTS_QUEUE) == "staging.model.events"
