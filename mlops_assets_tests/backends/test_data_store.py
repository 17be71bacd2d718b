"""Contract tests of the training data store, run against SQLite and PostgreSQL."""

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mlops_assets.backends.data_store import TrainingDataStore, content_hash
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
