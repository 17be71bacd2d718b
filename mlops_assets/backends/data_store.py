"""The training data store: confirmed task photos and face vectors replicated from their events.

One implementation over SQLAlchemy Core serves both backends: a SQLite file (embedded default)
and PostgreSQL (production), chosen by the URL. Rows are append-only; `seq` is the store's
high-water mark. No dagster import: the Dagster resource hands out this object.
"""

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mlops_assets.backends.record_tables import (
    FACE_RECORDS,
    METADATA,
    TASK_RECORDS,
    RecordTable,
    as_utc,
)
from mlops_assets.contracts.records import ConfirmedWindow

# Rows per look-up: keeps an IN list under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 500


class RecordRefused(ValueError):
    """The store refused a record for its content (not because the store is down)."""


class TrainingDataStore:
    """Append-only store of the replicated sources, idempotent on `event_id`: confirmed task
    photos (`confirmed_tasks`, the default table of every method) and registered face vectors
    (`face_vectors`, read-only copies of the Auth service's events).

    It refuses what the event contracts refuse (each table's `problems`), and its reads skip
    rows whose timestamp lies outside `window` (rows stored before the rule existed), so no row
    can push a snapshot, a sensor or the schedule out of range.

    Args:
        url: SQLAlchemy URL: sqlite:///path/to/file.db or postgresql+psycopg2://...
        window: the plausible `confirmed_at` / `captured_at` instants (default
            `ConfirmedWindow()`).
    """

    def __init__(self, url: str, window: ConfirmedWindow | None = None) -> None:
        self.url = url
        self.window = window or ConfirmedWindow()
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        """The engine, created with the tables on first use."""
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

    def insert(self, records: Iterable[Any], table: RecordTable = TASK_RECORDS) -> int:
        """Inserts records in one transaction, skipping event ids already stored.

        Args:
            records: the records to add (`TaskRecord`s, or `FaceRecord`s with `FACE_RECORDS`).
            table: the records' table.

        Returns:
            How many records were new.

        Raises:
            RecordRefused: a record breaks the contract's rules, or the database refused its
                content; nothing of the batch was stored.
        """
        records = list(records)
        window = self.window.at(datetime.now(UTC))
        for record in records:
            problems = table.problems(record, window)
            if problems:
                raise RecordRefused(f"event {record.event_id!r}: {'; '.join(problems)}")
        if not records:
            return 0
        try:
            if self.engine.dialect.name == "sqlite":
                return self._insert_sqlite(records, table)
            return self._insert_rows(records, table)
        except (sa.exc.DataError, UnicodeError) as error:
            # Content the database cannot hold (PostgreSQL's class 22, "data exception"), as
            # opposed to an unreachable or failing server, which propagates as it is.
            raise RecordRefused(f"the database refused the batch: {error}") from error

    def _insert_rows(self, records: Sequence[Any], table: RecordTable) -> int:
        rows = [dict(zip(table.columns, table.values(r), strict=True)) for r in records]
        dialect = self.engine.dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table.table)
        with self.engine.begin() as conn:
            result = conn.execute(insert.on_conflict_do_nothing(index_elements=["event_id"]), rows)
        return max(result.rowcount, 0)

    def _insert_sqlite(self, records: Sequence[Any], table: RecordTable) -> int:
        # SQLAlchemy's per-row bind processing costs more than SQLite's insert itself (it halves
        # event replication throughput); the driver gets the same values, DATETIME in the
        # format SQLAlchemy's SQLite dialect stores and reads back.
        statement = (
            f"INSERT INTO {table.table.name} ({', '.join(table.columns)}) "
            f"VALUES ({', '.join('?' for _ in table.columns)}) ON CONFLICT (event_id) DO NOTHING"
        )
        with self.engine.begin() as conn:
            result = conn.exec_driver_sql(statement, [table.sqlite_values(r) for r in records])
        return max(result.rowcount, 0)

    def stored(
        self, event_ids: Iterable[str], table: RecordTable = TASK_RECORDS
    ) -> dict[str, tuple[int, Any]]:
        """Returns the stored `(seq, record)` of each of `event_ids` that `table` holds."""
        ids = sorted(set(event_ids))
        query = sa.select(table.table).where(
            table.table.c.event_id.in_(sa.bindparam("ids", expanding=True))
        )
        found: dict[str, tuple[int, Any]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), LOOKUP_CHUNK):
                rows = conn.execute(query, {"ids": ids[start : start + LOOKUP_CHUNK]})
                for row in rows.mappings():
                    found[row["event_id"]] = (row["seq"], table.from_row(row))
        return found

    def _plausible(self, table: RecordTable) -> sa.ColumnElement[bool]:
        return sa.and_(
            table.time >= as_utc(self.window.earliest),
            table.time <= as_utc(self.window.latest()),
        )

    def high_water_mark(self, table: RecordTable = TASK_RECORDS) -> int:
        """Returns the newest `seq` in `table` (0 when empty)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(table.table.c.seq))).scalar() or 0)

    def newest_at(self, table: RecordTable) -> datetime | None:
        """Returns the newest plausible timestamp of `table` (UTC), or None when it is empty."""
        query = sa.select(sa.func.max(table.time)).where(self._plausible(table))
        with self.engine.connect() as conn:
            newest = conn.execute(query).scalar()
        return None if newest is None else as_utc(newest)

    def newest_confirmed_at(self) -> datetime | None:
        """Returns when the newest plausible task was confirmed (UTC), or None when empty."""
        return self.newest_at(TASK_RECORDS)

    def count(self, after_seq: int = 0, table: RecordTable = TASK_RECORDS) -> int:
        """Returns how many records of `table` have `seq` greater than `after_seq`."""
        query = sa.select(sa.func.count()).where(table.table.c.seq > after_seq)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar())

    def snapshot(
        self,
        up_to_seq: int | None = None,
        until: datetime | None = None,
        since: datetime | None = None,
    ) -> pd.DataFrame:
        """Reads the confirmed tasks as of a high-water mark.

        Args:
            up_to_seq: newest `seq` to include; None means everything stored now.
            until: if given, only records confirmed before this instant.
            since: if given, only records confirmed at or after this instant.

        Returns:
            One row per record ordered by `seq`, with `pixels` as uint8 numpy arrays and
            `confirmed_at` as UTC timestamps; rows outside the store's window are left out.
        """
        return self._frame(TASK_RECORDS, up_to_seq, until, since)

    def face_vectors(
        self,
        until: datetime | None = None,
        since: datetime | None = None,
        up_to_seq: int | None = None,
    ) -> pd.DataFrame:
        """Reads the registered face vectors (the face verifier's snapshot).

        Args:
            until: if given, only vectors captured before this instant.
            since: if given, only vectors captured at or after this instant.
            up_to_seq: newest `seq` of `face_vectors` to include; None means everything.

        Returns:
            One row per vector ordered by `seq`: `seq`, `event_id`, `helper_id`, `captured_at`
            (UTC timestamps), `vector` (float64 numpy arrays of `FACE_VECTOR_DIMENSION`, unit
            norm; `np.stack(frame["vector"])` is the matrix), `camera`, `source`; rows outside
            the store's window are left out.
        """
        return self._frame(FACE_RECORDS, up_to_seq, until, since)

    def _frame(
        self,
        table: RecordTable,
        up_to_seq: int | None,
        until: datetime | None,
        since: datetime | None,
    ) -> pd.DataFrame:
        query = sa.select(table.table).where(self._plausible(table)).order_by(table.table.c.seq)
        if up_to_seq is not None:
            query = query.where(table.table.c.seq <= up_to_seq)
        if until is not None:
            query = query.where(table.time < as_utc(until))
        if since is not None:
            query = query.where(table.time >= as_utc(since))
        columns = [column.name for column in table.table.columns]
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).all(), columns=columns)
        if frame.empty:
            return frame
        frame[table.time_column] = pd.to_datetime(frame[table.time_column], utc=True)
        for column, dtype in table.arrays.items():
            frame[column] = [np.frombuffer(value, dtype=dtype) for value in frame[column]]
        return frame

    def clear(self) -> None:
        """Deletes every record of every table (the demo starts from an empty store)."""
        with self.engine.begin() as conn:
            for table in reversed(METADATA.sorted_tables):
                conn.execute(table.delete())


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
