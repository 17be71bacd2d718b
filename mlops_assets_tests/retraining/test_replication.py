"""Replication from the queue into the store: exactly once in the store, malformed to the DLQ."""

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlops_assets.backends.data_store import RecordRefused, TrainingDataStore
from mlops_assets.backends.record_tables import CONFIRMED_TASKS, TASK_RECORDS
from mlops_assets.contracts.events import (
    EVENT_MAX_BYTES,
    TASK_CONFIRMED_QUEUE,
    TaskConfirmedEvent,
)
from mlops_assets.retraining.replication import TASK_EVENTS, replicate
from mlops_assets_tests.support import hostile
from mlops_assets_tests.support.draining import check_any_bodies, drain, reasons

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


# Hostile input: one message must never stop the drain (the six cases that once did, then a
# property-based search over arbitrary bodies on every queue and store backend).


def event_dict(i: int, **overrides) -> dict:
    event = json.loads(good(i))
    event.update(overrides)
    return event


def encode(event: dict) -> bytes:
    return json.dumps(event).encode()


def test_case1_deeply_nested_json_is_dead_lettered_and_the_drain_goes_on(queue_factory, store):
    nested = b"[" * 5_000 + b"]" * 5_000  # under the size bound, past the depth bound
    queue = queue_factory()
    queue.publish_bodies(Q, [nested, good(1), good(2)])
    received, inserted, dead, _ = drain(queue, store, 3)
    assert (received, inserted, dead) == (3, 2, 1)
    assert "not JSON" in reasons(queue)[nested] and "recursion limit" in reasons(queue)[nested]


def test_task_event_over_the_size_bound_is_dead_lettered_unparsed(queue_factory, store):
    """Issue 26, item 2: a 20 MB event cost 2.6 s and 587 MB to parse; a body over
    EVENT_MAX_BYTES is now refused by its length, with the reason, and the drain goes on."""
    event = json.loads(good(7))
    event["source"] = "x" * (EVENT_MAX_BYTES + 1)
    huge = json.dumps(event).encode()
    queue = queue_factory()
    queue.publish_bodies(Q, [huge, good(1)])
    received, inserted, dead, _ = drain(queue, store, 2)
    assert (received, inserted, dead) == (2, 1, 1)
    assert f"over the {EVENT_MAX_BYTES:,}-byte bound" in reasons(queue)[huge]


def test_a_valid_task_event_is_far_under_the_size_bound():
    """Issue 26, item 2: the bound leaves a valid event (64 grey levels inline) a wide margin."""
    longest = TaskConfirmedEvent(
        event_id="e" * 64,
        task_id="t" * 64,
        confirmed_at="2025-01-01T00:00:00Z",
        label=9,
        pixels=[16] * 64,
        source="s" * 64,
    ).to_json()
    assert len(longest) * 64 < EVENT_MAX_BYTES


def test_case2_year_9999_is_dead_lettered_and_cannot_break_a_snapshot(queue_factory, store):
    far = encode(event_dict(9, confirmed_at="9999-12-31T23:59:59+00:00"))
    queue = queue_factory()
    queue.publish_bodies(Q, [far, good(1)])
    assert drain(queue, store, 2)[:3] == (2, 1, 1)
    assert "is in the future" in reasons(queue)[far]
    # The store refuses it too, and a row written before the rule existed is never read.
    record = TaskConfirmedEvent.model_validate_json(good(3)).to_record()
    with pytest.raises(RecordRefused, match="confirmed_at"):
        store.insert([replace(record, confirmed_at=datetime(9999, 12, 31, tzinfo=UTC))])
    write_raw_row(store, "legacy-9999", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    frame = store.snapshot()
    assert list(frame["event_id"]) == ["event-1"]
    assert store.newest_confirmed_at() == datetime(2025, 1, 1, tzinfo=UTC)


def test_case3_far_future_is_dead_lettered_and_reads_stay_in_range(queue_factory, store):
    future = encode(event_dict(8, confirmed_at="2100-01-01T00:00:00+00:00"))
    queue = queue_factory()
    queue.publish_bodies(Q, [future])
    assert drain(queue, store, 1)[:3] == (1, 0, 1)
    assert "MLOPS_EVENTS_MAX_CLOCK_SKEW_S" in reasons(queue)[future]
    # A 2100 row already in the store is not "the newest": the sensor and the schedule ask for
    # a partition that exists (graph/test_schedules.py, graph/test_sensors.py).
    write_raw_row(store, "legacy-2100", datetime(2100, 1, 1, tzinfo=UTC))
    assert store.newest_confirmed_at() is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"pixels": ["1"] * 64},
        {"pixels": [True] + [0] * 63},
        {"pixels": [1.0] * 64},
        {"label": 7.0},
        {"label": "7"},
        {"label": True},
    ],
    ids=[
        "pixels-as-strings",
        "pixel-as-bool",
        "pixels-as-floats",
        "label-7.0",
        "label-str",
        "label-bool",
    ],
)
def test_case4_strings_booleans_and_floats_are_not_coerced(queue_factory, store, overrides):
    lax = encode(event_dict(4, **overrides))
    queue = queue_factory()
    queue.publish_bodies(Q, [lax])
    assert drain(queue, store, 1)[:3] == (1, 0, 1)
    assert "Input should be a valid integer" in reasons(queue)[lax]
    assert store.count() == 0


def test_case5_nul_in_text_is_dead_lettered_and_the_batch_is_stored(queue_factory, any_store):
    nul_task = encode(event_dict(5, task_id="task\x00-5"))
    nul_source = encode(event_dict(6, source="help\x00er"))
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1), nul_task, nul_source, good(2)])
    assert drain(queue, any_store, 4)[:3] == (4, 2, 2)
    assert "task_id: control character U+0000" in reasons(queue)[nul_task]
    assert "source: control character U+0000" in reasons(queue)[nul_source]
    assert sorted(any_store.snapshot()["event_id"]) == ["event-1", "event-2"]
    record = TaskConfirmedEvent.model_validate_json(good(7)).to_record()
    with pytest.raises(RecordRefused, match="U\\+0000"):
        any_store.insert([replace(record, task_id="t\x00")])


def test_case6_conflicting_duplicate_is_dead_lettered_naming_the_stored_event(queue_factory, store):
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1)])
    drain(queue, store, 1)
    other_label = encode(event_dict(1, label=9))
    other_pixels = encode(event_dict(1, pixels=[0] * 64))
    queue.publish_bodies(Q, [good(1), other_label, other_pixels])
    received, inserted, dead, conflicts = drain(queue, store, 3)
    assert (received, inserted, dead, conflicts) == (3, 0, 2, 2)
    reason = reasons(queue)[other_label]
    assert "conflicting duplicate: event_id 'event-1'" in reason
    assert "the stored event (seq 1: task 'task-1'" in reason and "label 1" in reason
    assert "differs in label (9)" in reason
    assert "differs in pixels" in reasons(queue)[other_pixels]
    assert store.count() == 1


def test_conflicts_within_one_batch_count_in_the_summary(queue_factory, store):
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1), encode(event_dict(1, task_id="task-x")), good(1)])
    assert drain(queue, store, 3) == (3, 1, 1, 1)
    (reason,) = reasons(queue).values()
    assert "conflicting duplicate: event_id 'event-1'" in reason
    if queue_factory.backend == "sqlite":  # one fetch holds all three
        assert "an event earlier in the same batch" in reason
    result = replicate(queue, store, max_messages=10, max_seconds=0.1)
    assert "dead-lettered (0 conflicting duplicates)" in result.summary()


def test_a_store_that_is_down_leaves_the_batch_unacknowledged(queue_factory, tmp_path):
    down = TrainingDataStore("postgresql+psycopg2://nobody@127.0.0.1:9/none?connect_timeout=1")
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1), b"{broken"])
    with pytest.raises(sa.exc.OperationalError):
        replicate(queue, down, max_messages=10, max_seconds=5)
    queue.close()
    store = TrainingDataStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert drain(queue_factory(), store, 2)[:3] == (2, 1, 1)


def test_the_store_refusing_a_record_dead_letters_only_that_message(queue_factory, tmp_path):
    class Picky(TrainingDataStore):
        """Refuses task 'task-2' as a database would refuse content it cannot hold."""

        def insert(self, records, table=TASK_RECORDS):
            records = list(records)
            if any(r.task_id == "task-2" for r in records):
                raise RecordRefused("the database refused the batch: invalid byte sequence")
            return super().insert(records, table)

    store = Picky(f"sqlite:///{tmp_path / 'store.db'}")
    queue = queue_factory()
    queue.publish_bodies(Q, [good(1), good(2), good(3)])
    assert drain(queue, store, 3)[:3] == (3, 2, 1)
    assert "refused event 'event-2'" in reasons(queue)[good(2)]


def write_raw_row(store: TrainingDataStore, event_id: str, confirmed_at: datetime) -> None:
    """Writes a row past the store's rules, as a bug or an older version could have."""
    with store.engine.begin() as conn:
        conn.execute(
            CONFIRMED_TASKS.insert().values(
                event_id=event_id,
                task_id="legacy",
                confirmed_at=confirmed_at,
                label=1,
                pixels=bytes(64),
                source="legacy",
            )
        )


PROPERTY_EXAMPLES = {"sqlite": 150, "rabbitmq": 40}


def test_any_bodies_end_stored_or_dead_lettered_with_a_reason(queue_factory, any_store):
    """Property: for any list of bodies (arbitrary bytes, arbitrary JSON, nesting, valid events
    with repeated ids, mutations of valid events), `replicate` does not raise; every valid
    event's first occurrence is stored once, identical duplicates vanish, every other body is
    dead-lettered with its reason, and nothing is left on the queue."""
    counts = check_any_bodies(
        queue_factory,
        any_store,
        hostile.bodies,
        TASK_EVENTS,
        PROPERTY_EXAMPLES[queue_factory.backend],
    )
    # Shown with `pytest -rP`: the figures of the run (examples include shrinking).
    print(f"{queue_factory.backend} queue: {dict(counts)}")
