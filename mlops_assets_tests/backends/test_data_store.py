"""Contract tests of the training data store (task photos and face vectors), run against SQLite
and PostgreSQL."""

import dataclasses
import math
import os
import re
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from mlops_assets.backends.data_store import RecordRefused, TrainingDataStore, content_hash
from mlops_assets.backends.record_tables import FACE_RECORDS, FACE_VECTORS
from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION, FaceRecord, vector_bytes
from mlops_assets.contracts.records import TaskRecord
from mlops_assets_tests.support.services import service_missing

POSTGRES_URL = os.environ.get(
    "POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def postgres_database():
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"mlops_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        service_missing(f"PostgreSQL at {POSTGRES_URL} does not answer: {error.orig}")
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    store = TrainingDataStore(url)
    store.clear()
    yield store
    store.clear()
    store.close()


def record(i: int, label: int = 3, day: int = 0) -> TaskRecord:
    return TaskRecord(
        event_id=f"event-{i}",
        task_id=f"task-{i}",
        confirmed_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day, minutes=i),
        label=label,
        pixels=bytes([i % 17] * 64),
        source="test",
    )


def test_empty_store(store):
    assert store.high_water_mark() == 0
    assert store.count() == 0
    assert store.snapshot().empty


def test_insert_and_snapshot_round_trip(store):
    assert store.insert([record(1, label=7), record(2, label=1)]) == 2
    frame = store.snapshot()
    assert list(frame["event_id"]) == ["event-1", "event-2"]
    assert list(frame["label"]) == [7, 1]
    assert frame["pixels"][0].tolist() == [1] * 64
    assert str(frame["confirmed_at"].dt.tz) == "UTC"
    assert frame["confirmed_at"][0] == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)


def test_duplicate_event_ids_are_ignored(store):
    assert store.insert([record(1), record(2)]) == 2
    assert store.insert([record(2), record(3), record(3)]) == 1
    assert store.count() == 3


def test_high_water_mark_bounds_the_snapshot(store):
    store.insert([record(1), record(2)])
    mark = store.high_water_mark()
    store.insert([record(3)])
    assert len(store.snapshot(up_to_seq=mark)) == 2
    assert store.count(after_seq=mark) == 1
    assert store.high_water_mark() > mark


def test_snapshot_until_excludes_newer_records(store):
    store.insert([record(1, day=0), record(2, day=40)])
    frame = store.snapshot(until=datetime(2025, 2, 1, tzinfo=UTC))
    assert list(frame["event_id"]) == ["event-1"]


def test_content_hash_changes_with_content(store):
    store.insert([record(1, label=1)])
    first = content_hash(store.snapshot())
    assert first == content_hash(store.snapshot())
    store.insert([record(2, label=2)])
    assert content_hash(store.snapshot()) != first


# Face vectors: their own table in the same store, with the same guarantees.


def face(i: int, day: int = 0, helper: str = "helper-1", **changes) -> FaceRecord:
    rng = np.random.default_rng(i)
    vector = rng.normal(size=FACE_VECTOR_DIMENSION)
    values = {
        "event_id": f"face-{i}",
        "helper_id": helper,
        "captured_at": datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day, minutes=i),
        "vector": vector_bytes((vector / np.linalg.norm(vector)).tolist()),
        "camera": "camera-a",
        "source": "auth",
    }
    return FaceRecord(**{**values, **changes})


def test_face_vectors_round_trip_exactly_in_their_own_table(store):
    records = [face(1, helper="helper-1"), face(2, helper="helper-2")]
    assert store.insert(records, FACE_RECORDS) == 2
    frame = store.face_vectors()
    assert list(frame.columns) == [
        "seq",
        "event_id",
        "helper_id",
        "captured_at",
        "vector",
        "camera",
        "source",
    ]
    assert list(frame["event_id"]) == ["face-1", "face-2"]
    assert list(frame["helper_id"]) == ["helper-1", "helper-2"]
    matrix = np.stack(frame["vector"])
    assert matrix.shape == (2, FACE_VECTOR_DIMENSION) and matrix.dtype == np.float64
    assert [row.tobytes() for row in matrix] == [r.vector for r in records]
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0)
    assert str(frame["captured_at"].dt.tz) == "UTC"
    assert frame["captured_at"][0] == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)
    # The task table is untouched: each source has its own high-water mark.
    assert store.count() == 0 and store.high_water_mark() == 0 and store.snapshot().empty
    mark = store.high_water_mark(FACE_RECORDS)
    assert list(frame["seq"]) == [mark - 1, mark]
    assert store.stored(["face-2", "face-9"], FACE_RECORDS) == {"face-2": (mark, records[1])}


def test_an_empty_face_table_reads_as_an_empty_frame_with_the_columns(store):
    frame = store.face_vectors()
    assert frame.empty and "vector" in frame.columns and "helper_id" in frame.columns
    assert store.high_water_mark(FACE_RECORDS) == 0
    assert store.newest_at(FACE_RECORDS) is None


def test_face_event_ids_are_idempotent_and_the_reads_are_bounded(store):
    assert store.insert([face(1, day=0), face(2, day=40)], FACE_RECORDS) == 2
    mark = store.high_water_mark(FACE_RECORDS)
    assert store.insert([face(2, day=40), face(3, day=80), face(3, day=80)], FACE_RECORDS) == 1
    assert store.count(table=FACE_RECORDS) == 3 and store.count(mark, FACE_RECORDS) == 1
    until = datetime(2025, 2, 1, tzinfo=UTC)
    assert list(store.face_vectors(until=until)["event_id"]) == ["face-1"]
    assert list(store.face_vectors(since=until)["event_id"]) == ["face-2", "face-3"]
    assert list(store.face_vectors(up_to_seq=mark)["event_id"]) == ["face-1", "face-2"]
    assert store.newest_at(FACE_RECORDS) == face(3, day=80).captured_at
    assert store.newest_confirmed_at() is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"vector": bytes(8 * 127)}, "vector: 1016 bytes where a face vector has 1024"),
        ({"vector": vector_bytes([0.0] * FACE_VECTOR_DIMENSION)}, "vector: a zero vector"),
        ({"vector": vector_bytes([0.5] * FACE_VECTOR_DIMENSION)}, "vector: not L2-normalised"),
        (
            {"vector": vector_bytes([math.nan] + [0.0] * (FACE_VECTOR_DIMENSION - 1))},
            "vector: a non-finite value nan at position 0",
        ),
        ({"helper_id": "h\x00"}, "helper_id: control character U+0000"),
        ({"camera": ""}, "camera: empty text"),
        ({"captured_at": datetime(9999, 12, 31, tzinfo=UTC)}, "captured_at: 9999-12-31"),
    ],
)
def test_the_store_refuses_what_the_face_contract_refuses(store, changes, reason):
    with pytest.raises(RecordRefused, match=re.escape(reason)):
        store.insert([face(1), face(2, **changes)], FACE_RECORDS)
    assert store.count(table=FACE_RECORDS) == 0


def test_face_rows_outside_the_window_are_never_read(store):
    store.insert([face(1)], FACE_RECORDS)
    with store.engine.begin() as conn:  # a row written past the rules, as an old bug could
        conn.execute(
            FACE_VECTORS.insert().values(
                **{**dataclasses.asdict(face(2)), "captured_at": datetime(2100, 1, 1, tzinfo=UTC)}
            )
        )
    assert list(store.face_vectors()["event_id"]) == ["face-1"]
    assert store.newest_at(FACE_RECORDS) == face(1).captured_at


def test_clear_empties_every_table(store):
    store.insert([record(1)])
    store.insert([face(1)], FACE_RECORDS)
    store.clear()
    assert store.count() == 0 and store.count(table=FACE_RECORDS) == 0
