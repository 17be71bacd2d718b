"""Push: the subscriber turns model events on the real queue backends into reloader wake-ups."""

import json
import subprocess
import sys
import threading
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pika.exceptions import AMQPConnectionError

from mlops_assets.backends.event_queue.base import Message
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
    MAX_DELIVERIES,
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


def test_push_keeps_consuming_after_a_deeply_nested_model_event(make_queue, subscribed):
    """Issue 26, item 3: b"[" * 100_000 raised RecursionError out of `json.loads`, the batch was
    never acked and came back first for ever; now it is dead-lettered and the rest handled."""
    subscriber, notifications = subscribed
    publisher = make_queue.publisher
    nested = b"[" * 100_000
    publisher.publish_bodies(MODEL_EVENTS_QUEUE, [nested, promoted("4").to_json()])

    assert notifications.wait_for(1) == ["ModelPromoted v4"]
    subscriber.close()
    [letter] = dead_letters(publisher, 1)
    assert letter.body == nested
    assert publisher.depth(MODEL_EVENTS_QUEUE) == 0


class SettledQueue:
    """Records what `handle` acks and dead-letters (a unit test of the per-message logic)."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.rejected: list[tuple[int, str]] = []

    def ack(self, queue, messages) -> None:
        self.acked += [m.tag for m in messages]

    def dead_letter(self, queue, rejected) -> None:
        self.rejected += [(m.tag, reason) for m, reason in rejected]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
hostile_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.fixed_dictionaries(
        {"event_type": st.sampled_from(["ModelPromoted", "ModelRolledBack", "x"])},
        optional={"model_name": st.text(max_size=10), "version": json_values},
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(hostile_bodies, max_size=8))
def test_push_settles_every_model_event_body_each_on_its_own(bodies):
    """Issue 26, item 3: whatever the bodies, each message is acked or dead-lettered once, and
    a valid promotion among them still notifies."""
    notified = []
    subscriber = ModelEventSubscriber(lambda: None, MODEL, notified.append)
    queue = SettledQueue()
    valid = promoted("9").to_json()
    messages = [Message(tag, body, False) for tag, body in enumerate([*bodies, valid])]
    subscriber.handle(queue, messages)
    assert sorted(queue.acked + [tag for tag, _ in queue.rejected]) == list(range(len(messages)))
    assert len(messages) - 1 in queue.acked
    assert "ModelPromoted v9" in notified


def test_push_dead_letters_a_model_event_redelivered_too_often():
    """Issue 26, item 3: a message that keeps coming back unsettled is set aside unread."""
    notified = []
    queue = SettledQueue()
    subscriber = ModelEventSubscriber(lambda: None, MODEL, notified.append)
    body = promoted("5").to_json()
    subscriber.handle(queue, [Message(1, body, True, MAX_DELIVERIES + 1)])
    assert notified == [] and queue.acked == []
    assert queue.rejected == [
        (1, f"delivered {MAX_DELIVERIES + 1} times without being settled; not read again")
    ]


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
