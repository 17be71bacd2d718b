"""Replication from the queue into the store: exactly once in the store, malformed to the DLQ."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent
from mlops_assets.retraining.replication import replicate

Q = TASK_CONFIRMED_QUEUE
ROOT = Path(__file__).resolve().parents[2]
MALFORMED = [
    b"{broken",
    json.dumps({"event_id": "bad-version", "schema_version": 9}).encode(),
    b"[]",
]


def bad_pixels(i: int) -> bytes:
    event = json.loads(good(i))
    event["event_id"] = f"bad-pixels-{i}"
    event["pixels"] = event["pixels"][:10]
    return json.dumps(event).encode()


def good(i: int) -> bytes:
    return TaskConfirmedEvent(
        event_id=f"event-{i}",
        task_id=f"task-{i}",
        confirmed_at="2025-01-01T00:00:00Z",
        label=i % 10,
        pixels=[i % 17] * 64,
        source="test",
    ).to_json()


def mixed(valid: int, every: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Valid events with a malformed one after every `every`, and some valid ones twice."""
    valid_bodies = [good(i) for i in range(valid)]
    malformed, published = [], []
    for i, body in enumerate(valid_bodies):
        published.append(body)
        if i % every == every - 1:
            bad = MALFORMED[len(malformed) % len(MALFORMED)]
            bad = bad if len(malformed) < len(MALFORMED) else bad_pixels(i)
            malformed.append(bad)
            published.append(bad)
        if i % 97 == 0:
            published.append(body)  # the Helper service retried this publish
    return valid_bodies, malformed, published


@pytest.fixture
def store(tmp_path):
    store = TrainingDataStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def stored_ids(store) -> list[str]:
    return list(store.snapshot()["event_id"])


def drain_until_settled(queue_factory, store, expected_rows: int, expected_dead: int) -> None:
    """Restarted consumer: drains until every event arrived (redelivery is asynchronous)."""
    consumer = queue_factory()
    for _ in range(30):
        replicate(consumer, store, max_messages=10**6, max_seconds=5, batch_size=200)
        if store.count() >= expected_rows and len(consumer.dead_letters(Q, 10**4)) >= expected_dead:
            break
    # One more drain: nothing may be left over.
    assert replicate(consumer, store, max_messages=10**6, max_seconds=1).received == 0


def test_replicate_stores_each_valid_event_once_and_dead_letters_the_rest(queue_factory, store):
    valid, malformed, published = mixed(valid=300, every=40)
    queue = queue_factory()
    queue.publish_bodies(Q, published)
    result = replicate(queue, store, max_messages=10**6, max_seconds=30, batch_size=64)
    assert result.received == len(published)
    assert result.inserted == len(valid)
    assert result.dead_lettered == len(malformed)
    assert result.duplicates == len(published) - len(valid) - len(malformed)
    assert sorted(stored_ids(store)) == sorted(f"event-{i}" for i in range(len(valid)))
    assert sorted(d.body for d in queue.dead_letters(Q, 1000)) == sorted(malformed)
    assert queue.depth(Q) == 0


def test_replicate_is_bounded_by_count(queue_factory, store):
    queue = queue_factory()
    queue.publish_bodies(Q, [good(i) for i in range(30)])
    result = replicate(queue, store, max_messages=10, max_seconds=30, batch_size=4)
    assert result.received == 10 and store.count() == 10
    queue.close()
    rest = replicate(queue_factory(), store, max_messages=100, max_seconds=30, batch_size=4)
    assert rest.received == 20 and store.count() == 30


def test_redelivered_batch_is_absorbed_by_event_id(queue_factory, store):
    queue = queue_factory()
    queue.publish_bodies(Q, [good(i) for i in range(5)])
    batch = queue.fetch(Q, 10, max_seconds=2)
    store.insert([TaskConfirmedEvent.model_validate_json(m.body).to_record() for m in batch])
    queue.close()  # crashed between the commit and the ack
    consumer, received, inserted = queue_factory(), 0, 0
    for _ in range(50):  # redelivery is asynchronous on a broker
        result = replicate(consumer, store, max_messages=100, max_seconds=5)
        received, inserted = received + result.received, inserted + result.inserted
        if received >= 5:
            break
    assert received == 5 and inserted == 0
    assert store.count() == 5


@pytest.mark.parametrize(
    ("pause_after", "when"), [(1, "after-commit"), (7, "after-commit"), (4, "before-commit")]
)
def test_consumer_killed_mid_batch_loses_and_duplicates_nothing(
    queue_factory, store, tmp_path, pause_after, when
):
    valid, malformed, published = mixed(valid=1200, every=100)
    queue_factory().publish_bodies(Q, published)
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlops_assets_tests.support.crash_consumer",
            queue_factory.backend,
            queue_factory.location,
            queue_factory.prefix,
            store.url,
            str(pause_after),
            when,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = consumer.stdout.readline()
    assert line.strip() == ("committed" if when == "after-commit" else "fetched"), line
    before_kill = store.count()
    consumer.send_signal(signal.SIGKILL)
    # Reaping the child matters for the embedded queue: a zombie's pid still looks alive.
    assert consumer.wait(timeout=30) == -signal.SIGKILL
    assert 0 < before_kill < len(valid)

    drain_until_settled(queue_factory, store, len(valid), len(malformed))
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == len(valid)
    assert set(ids) == {f"event-{i}" for i in range(len(valid))}
    assert sorted(d.body for d in queue_factory().dead_letters(Q, 10**4)) == sorted(malformed)
