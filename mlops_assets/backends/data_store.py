"""The training data store: confirmed task photos replicated from task events.

One implementation over SQLAlchemy Core serves both backends: a SQLite file (embedded default)
and PostgreSQL (production), chosen by the URL. Rows are append-only; `seq` is the store's
high-water mark. No dagster import: the Dagster resource hands out this object.
"""

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mlops_assets.contracts.records import ConfirmedWindow, TaskRecord, record_problems

METADATA = sa.MetaData()
CONFIRMED_TASKS = sa.Table(
    "confirmed_tasks",
    METADATA,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("label", sa.Integer, nullable=False),
    sa.Column("pixels", sa.LargeBinary, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
)

# One statement, compiled once (an expanding IN): the drain looks up every batch's event ids.
STORED_BY_ID = sa.select(CONFIRMED_TASKS).where(
    CONFIRMED_TASKS.c.event_id.in_(sa.bindparam("ids", expanding=True))
)
SQLITE_INSERT = (
    "INSERT INTO confirmed_tasks (event_id, task_id, confirmed_at, label, pixels, source) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)


class RecordRefused(ValueError):
    """The store refused a record for its content (not because the store is down)."""


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class TrainingDataStore:
    """Append-only store of confirmed task photos, idempotent on `event_id`.

    It refuses what the event contract refuses (`contracts.records.record_problems`), and its
    reads skip rows whose `confirmed_at` lies outside `window` (rows stored before the rule
    existed), so no row can push a snapshot, the sensor or the schedule out of range.

    Args:
        url: SQLAlchemy URL: sqlite:///path/to/file.db or postgresql+psycopg2://...
        window: the plausible `confirmed_at` instants (default `ConfirmedWindow()`).
    """

    def __init__(self, url: str, window: ConfirmedWindow | None = None) -> None:
        self.url = url
        self.window = window or ConfirmedWindow()
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        """The engine, created with the table on first use."""
        if self._engine is None:
            if self.url.startswith("sqlite:///"):
                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self.url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            METADATA.create_all(engine)
            self._engine = engine
        return self._engine

    def close(self) -> None:
        """Releases pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def insert(self, records: Iterable[TaskRecord]) -> int:
        """Inserts records in one transaction, skipping event ids already stored.

        Args:
            records: the records to add.

        Returns:
            How many records were new.

        Raises:
            RecordRefused: a record breaks the contract's rules, or the database refused its
                content; nothing of the batch was stored.
        """
        records = list(records)
        window = self.window.at(datetime.now(UTC))
        for record in records:
            problems = record_problems(record, window)
            if problems:
                raise RecordRefused(f"event {record.event_id!r}: {'; '.join(problems)}")
        try:
            if self.engine.dialect.name == "sqlite":
                return self._insert_sqlite(records)
            return self._insert_rows(records)
        except (sa.exc.DataError, UnicodeError) as error:
            # Content the database cannot hold (PostgreSQL's class 22, "data exception"), as
            # opposed to an unreachable or failing server, which propagates as it is.
            raise RecordRefused(f"the database refused the batch: {error}") from error

    def _insert_rows(self, records: Sequence[TaskRecord]) -> int:
        rows = [
            {
                "event_id": r.event_id,
                "task_id": r.task_id,
                "confirmed_at": _as_utc(r.confirmed_at),
                "label": int(r.label),
                "pixels": bytes(r.pixels),
                "source": r.source,
            }
            for r in records
        ]
        if not rows:
            return 0
        dialect = self.engine.dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CONFIRMED_TASKS)
        with self.engine.begin() as conn:
            result = conn.execute(insert.on_conflict_do_nothing(index_elements=["event_id"]), rows)
        return max(result.rowcount, 0)

    def _insert_sqlite(self, records: Iterable[TaskRecord]) -> int:
        # SQLAlchemy's per-row bind processing costs more than SQLite's insert itself (it halves
        # event replication throughput); the driver gets the same values, DATETIME in the
        # format SQLAlchemy's SQLite dialect stores and reads back.
        rows = [
            (
                r.event_id,
                r.task_id,
                _as_utc(r.confirmed_at).strftime("%Y-%m-%d %H:%M:%S.%f"),
                int(r.label),
                bytes(r.pixels),
                r.source,
            )
            for r in records
        ]
        if not rows:
            return 0
        with self.engine.begin() as conn:
            result = conn.exec_driver_sql(SQLITE_INSERT, rows)
        return max(result.rowcount, 0)

    def stored(self, event_ids: Iterable[str]) -> dict[str, tuple[int, TaskRecord]]:
        """Returns the stored `(seq, record)` of each of `event_ids` that the store holds."""
        ids = sorted(set(event_ids))
        found: dict[str, tuple[int, TaskRecord]] = {}
        with self.engine.connect() as conn:
            # Chunks keep the IN list under SQLite's bound-parameter limit.
            for start in range(0, len(ids), 500):
                rows = conn.execute(STORED_BY_ID, {"ids": ids[start : start + 500]})
                for row in rows.mappings():
                    found[row["event_id"]] = (
                        row["seq"],
                        TaskRecord(
                            event_id=row["event_id"],
                            task_id=row["task_id"],
                            confirmed_at=_as_utc(row["confirmed_at"]),
                            label=row["label"],
                            pixels=bytes(row["pixels"]),
                            source=row["source"],
                        ),
                    )
        return found

    def _plausible(self) -> sa.ColumnElement[bool]:
        confirmed_at = CONFIRMED_TASKS.c.confirmed_at
        return sa.and_(
            confirmed_at >= _as_utc(self.window.earliest),
            confirmed_at <= _as_utc(self.window.latest()),
        )

    def high_water_mark(self) -> int:
        """Returns the newest `seq` in the store (0 when empty)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(CONFIRMED_TASKS.c.seq))).scalar() or 0)

    def newest_confirmed_at(self) -> datetime | None:
        """Returns when the newest plausible task was confirmed (UTC), or None when empty."""
        query = sa.select(sa.func.max(CONFIRMED_TASKS.c.confirmed_at)).where(self._plausible())
        with self.engine.connect() as conn:
            newest = conn.execute(query).scalar()
        return None if newest is None else _as_utc(newest)

    def count(self, after_seq: int = 0) -> int:
        """Returns how many records have `seq` greater than `after_seq`."""
        query = sa.select(sa.func.count()).where(CONFIRMED_TASKS.c.seq > after_seq)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar())

    def snapshot(
        self,
        up_to_seq: int | None = None,
        until: datetime | None = None,
        since: datetime | None = None,
    ) -> pd.DataFrame:
        """Reads the store as of a high-water mark.

        Args:
            up_to_seq: newest `seq` to include; None means everything stored now.
            until: if given, only records confirmed before this instant.
            since: if given, only records confirmed at or after this instant.

        Returns:
            One row per record ordered by `seq`, with `pixels` as uint8 numpy arrays and
            `confirmed_at` as UTC timestamps; rows outside the store's window are left out.
        """
        query = sa.select(CONFIRMED_TASKS).where(self._plausible()).order_by(CONFIRMED_TASKS.c.seq)
        if up_to_seq is not None:
            query = query.where(CONFIRMED_TASKS.c.seq <= up_to_seq)
        if until is not None:
            query = query.where(CONFIRMED_TASKS.c.confirmed_at < _as_utc(until))
        if since is not None:
            query = query.where(CONFIRMED_TASKS.c.confirmed_at >= _as_utc(since))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all())
        if frame.empty:
            return pd.DataFrame(columns=[c.name for c in CONFIRMED_TASKS.columns])
        frame["confirmed_at"] = pd.to_datetime(frame["confirmed_at"], utc=True)
        frame["pixels"] = [np.frombuffer(p, dtype=np.uint8) for p in frame["pixels"]]
        return frame

    def clear(self) -> None:
        """Deletes every record (used by the demo to start from an empty store)."""
        with self.engine.begin() as conn:
            conn.execute(CONFIRMED_TASKS.delete())


def content_hash(frame: pd.DataFrame) -> str:
    """Hashes the event ids, labels and pixels of a snapshot, in `seq` order."""
    digest = hashlib.sha256()
    for event_id, label, pixels in zip(
        frame["event_id"], frame["label"], frame["pixels"], strict=True
    ):
        digest.update(event_id.encode())
        digest.update(int(label).to_bytes(2, "big"))
        digest.update(np.asarray(pixels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the sensor write while a run reads; busy_timeout waits out a concurrent writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
