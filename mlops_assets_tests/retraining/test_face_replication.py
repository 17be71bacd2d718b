"""Replication of face events into `face_vectors`: every guarantee the task events have, on both
queue backends and both stores: strict contract, dead letters with reasons, idempotent on event
id, conflicting twins dead-lettered, no message stops the drain, and a crash loses nothing."""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent
from mlops_assets.contracts.face_events import (
    FACE_REGISTERED_QUEUE,
    FACE_VECTOR_DIMENSION,
    FaceVectorRegisteredEvent,
)
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.retraining.replication import EVENT_SOURCES, FACE_EVENTS, TASK_EVENTS, replicate
from mlops_assets_tests.support import hostile_faces
from mlops_assets_tests.support.draining import check_any_bodies, drain, reasons

Q = FACE_REGISTERED_QUEUE
ROOT = Path(__file__).resolve().parents[2]
VECTORS = hostile_faces.unit_vectors(40, seed=11)


def face_dict(i: int, **overrides) -> dict:
    event = {
        "event_id": f"face-{i}",
        "schema_version": 1,
        "event_type": "FaceVectorRegisteredEvent",
        "helper_id": f"helper-{i % 7}",
        "vector": VECTORS[i % len(VECTORS)],
        "captured_at": "2025-03-01T12:00:00Z",
        "camera": "camera-a",
        "source": "auth",
    }
    event.update(overrides)
    return event


def good(i: int) -> bytes:
    return FaceVectorRegisteredEvent.model_validate(face_dict(i)).to_json()


def encode(event: dict) -> bytes:
    return json.dumps(event).encode()


def faces_drain(queue, store, published: int):
    return drain(queue, store, published, FACE_EVENTS)


BAD = {
    "wrong dimension": (
        encode(face_dict(101, vector=VECTORS[0][:100])),
        "vector: wrong dimension: 100 values where a face vector has 128",
    ),
    "non-finite": (
        encode(face_dict(102, vector=[math.nan] + VECTORS[0][1:])),
        "vector: a non-finite value nan at position 0",
    ),
    "zero vector": (
        encode(face_dict(103, vector=[0.0] * FACE_VECTOR_DIMENSION)),
        "vector: a zero vector",
    ),
    "not normalised": (
        encode(face_dict(104, vector=[2 * v for v in VECTORS[0]])),
        "vector: not L2-normalised: its norm is 2",
    ),
    "unknown field": (
        encode(face_dict(105, quality=0.9)),
        "quality: Extra inputs are not permitted",
    ),
    "bad JSON": (b'{"event_id": "face-106", "vector": [0.1,', "not JSON"),
    "a task event": (
        TaskConfirmedEvent(
            task_id="t",
            confirmed_at="2025-03-01T12:00:00Z",
            label=1,
            pixels=[0] * 64,
            source="helper",
        ).to_json(),
        "event_type 'TaskConfirmedEvent' where FaceVectorRegisteredEvent was expected",
    ),
    "NUL in helper_id": (
        encode(face_dict(108, helper_id="helper\x00")),
        "helper_id: control character U+0000",
    ),
    "in the future": (
        encode(face_dict(109, captured_at="2100-01-01T00:00:00Z")),
        "MLOPS_EVENTS_MAX_CLOCK_SKEW_S",
    ),
}


def test_face_events_are_stored_once_and_each_bad_one_dead_lettered_with_its_reason(
    queue_factory, any_store
):
    valid = [good(i) for i in range(30)]
    bad = [body for body, _ in BAD.values()]
    published = valid[:10] + bad + valid[10:] + valid[:3]  # three redelivered publishes
    queue = queue_factory()
    queue.publish_bodies(Q, published)
    received, inserted, dead, conflicts = faces_drain(queue, any_store, len(published))
    assert (received, inserted, dead, conflicts) == (len(published), 30, len(bad), 0)
    letters = reasons(queue, FACE_EVENTS)
    for what, (body, reason) in BAD.items():
        assert reason in letters[body], what
    frame = any_store.face_vectors()
    assert sorted(frame["event_id"]) == sorted(f"face-{i}" for i in range(30))
    assert [row.tolist() for row in frame["vector"]] == [
        json.loads(body)["vector"] for body in valid
    ]
    assert queue.depth(Q) == 0
    # Task events are another source, with their own queue and table.
    assert any_store.count() == 0 and queue.depth(TASK_CONFIRMED_QUEUE) == 0


def test_the_face_drain_leaves_the_task_queue_alone_and_vice_versa(queue_factory, any_store):
    queue = queue_factory()
    task = TaskConfirmedEvent(
        event_id="task-1",
        task_id="t",
        confirmed_at="2025-03-01T12:00:00Z",
        label=1,
        pixels=[0] * 64,
        source="helper",
    )
    queue.publish(TASK_CONFIRMED_QUEUE, [task])
    queue.publish_bodies(Q, [good(1)])
    assert faces_drain(queue, any_store, 1)[:2] == (1, 1)
    assert queue.depth(TASK_CONFIRMED_QUEUE) == 1 and any_store.count() == 0
    assert drain(queue, any_store, 1, TASK_EVENTS)[:2] == (1, 1)
    assert any_store.count() == 1 and any_store.count(table=FACE_RECORDS) == 1


def test_a_redelivered_face_batch_is_absorbed_by_event_id(queue_factory, any_store):
    queue = queue_factory()
    queue.publish_bodies(Q, [good(i) for i in range(5)])
    batch = queue.fetch(Q, 10, max_seconds=2)
    records = [FaceVectorRegisteredEvent.model_validate_json(m.body).to_record() for m in batch]
    any_store.insert(records, FACE_RECORDS)
    queue.close()  # crashed between the commit and the ack
    received, inserted, dead, _ = faces_drain(queue_factory(), any_store, 5)
    assert (received, inserted, dead) == (5, 0, 0)
    assert any_store.count(table=FACE_RECORDS) == 5


def test_a_conflicting_twin_is_dead_lettered_naming_the_stored_event(queue_factory, any_store):
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1)])
    faces_drain(queue, any_store, 1)
    other_vector = encode(face_dict(1, vector=VECTORS[5]))
    other_helper = encode(face_dict(1, helper_id="someone-else", camera="camera-b"))
    queue.publish_bodies(Q, [good(1), other_vector, other_helper])
    assert faces_drain(queue, any_store, 3) == (3, 0, 2, 2)
    letters = reasons(queue, FACE_EVENTS)
    seq = any_store.high_water_mark(FACE_RECORDS)
    assert letters[other_vector].startswith(
        f"conflicting duplicate: event_id 'face-1' is already taken by the stored event "
        f"(seq {seq}: helper 'helper-1', captured_at 2025-03-01T12:00:00+00:00, "
        "camera 'camera-a', source 'auth'); this message differs in vector"
    )
    assert letters[other_helper].endswith("differs in helper_id, camera")
    (row,) = any_store.face_vectors().itertuples()
    assert row.vector.tolist() == VECTORS[1]


def test_twins_within_one_batch_keep_the_first(queue_factory, any_store):
    twin = encode(face_dict(2, vector=VECTORS[9]))
    queue = queue_factory()
    queue.publish_bodies(Q, [good(2), twin, good(2)])
    assert faces_drain(queue, any_store, 3) == (3, 1, 1, 1)
    assert "conflicting duplicate: event_id 'face-2'" in reasons(queue, FACE_EVENTS)[twin]
    (row,) = any_store.face_vectors().itertuples()
    assert row.vector.tolist() == VECTORS[2]


def test_a_store_that_is_down_leaves_the_face_batch_unacknowledged(queue_factory, tmp_path):
    down = TrainingDataStore("postgresql+psycopg2://nobody@127.0.0.1:9/none?connect_timeout=1")
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1), b"{broken"])
    with pytest.raises(sa.exc.OperationalError):
        replicate(queue, down, max_messages=10, max_seconds=5, source=FACE_EVENTS)
    queue.close()
    store = TrainingDataStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert faces_drain(queue_factory(), store, 2)[:3] == (2, 1, 1)


def test_a_face_consumer_killed_after_its_commit_loses_and_duplicates_nothing(
    queue_factory, tmp_path
):
    store = TrainingDataStore(f"sqlite:///{tmp_path / 'store.db'}")
    valid = [good(i) for i in range(300)]
    malformed = [body for body, _ in BAD.values()]
    queue_factory().publish_bodies(Q, valid[:150] + malformed + valid[150:])
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlops_assets_tests.support.crash_consumer",
            queue_factory.backend,
            queue_factory.location,
            queue_factory.prefix,
            store.url,
            "2",
            "after-commit",
            "face",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert consumer.stdout.readline().strip() == "committed"
    assert 0 < store.count(table=FACE_RECORDS) < len(valid)
    consumer.send_signal(signal.SIGKILL)
    assert consumer.wait(timeout=30) == -signal.SIGKILL
    queue = queue_factory()
    for _ in range(30):  # redelivery is asynchronous on a broker
        faces_drain(queue, store, 1)
        if store.count(table=FACE_RECORDS) == len(valid):
            break
    ids = list(store.face_vectors()["event_id"])
    assert len(ids) == len(set(ids)) == len(valid)
    assert sorted(d.body for d in queue.dead_letters(Q, 10**4)) == sorted(malformed)
    store.close()


PROPERTY_EXAMPLES = {"sqlite": 120, "rabbitmq": 30}


def test_any_face_bodies_end_stored_or_dead_lettered_with_their_reason(queue_factory, any_store):
    """Property: generated hostile face events (and arbitrary bodies) never stop the consumer;
    each valid event's first occurrence is stored once, identical duplicates vanish, and every
    other body goes to the dead-letter queue with its own reason."""
    counts = check_any_bodies(
        queue_factory,
        any_store,
        hostile_faces.bodies,
        FACE_EVENTS,
        PROPERTY_EXAMPLES[queue_factory.backend],
    )
    # Shown with `pytest -rP`: the figures of the run (examples include shrinking).
    print(f"{queue_factory.backend} queue, face events: {dict(counts)}")


def test_every_fleet_source_with_a_queue_has_its_event_source_on_that_queue():
    for spec in load_fleet().models:
        if spec.source.queue is not None:
            assert EVENT_SOURCES[spec.source.kind].queue == spec.source.queue, spec.name
