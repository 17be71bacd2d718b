"""The training data store's tables, and how each kind of record maps onto its table.

One `RecordTable` per event source: the confirmed task photos (`confirmed_tasks`) and the
registered face vectors (`face_vectors`). Both are append-only, keyed by `event_id`, and hold one
timestamp column that the store's window bounds. No dagster import.
"""

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import numpy as np
import sqlalchemy as sa

from mlops_assets.contracts.face_events import (
    VECTOR_DTYPE,
    FaceRecord,
    face_record_problems,
)
from mlops_assets.contracts.records import ConfirmedWindow, TaskRecord, record_problems

METADATA = sa.MetaData()


def _event_table(name: str, *columns: sa.Column) -> sa.Table:
    # Every replicated source: `seq` (the store's high-water mark), the idempotency key, the
    # source's own columns, and the publishing service.
    return sa.Table(
        name,
        METADATA,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        *columns,
        sa.Column("source", sa.String(64), nullable=False),
    )


CONFIRMED_TASKS = _event_table(
    "confirmed_tasks",
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("label", sa.Integer, nullable=False),
    sa.Column("pixels", sa.LargeBinary, nullable=False),
)
FACE_VECTORS = _event_table(
    "face_vectors",
    sa.Column("helper_id", sa.String(64), nullable=False),
    sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("camera", sa.String(64), nullable=False),
)
# How SQLAlchemy's SQLite dialect stores a DATETIME (the store's fast path writes the same).
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"

R = TypeVar("R")


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value (SQLite reads them so) is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class RecordTable(Generic[R]):
    """One kind of record and its table: every column after `seq` is a field of the record, in
    the same order, with the same name.

    Args:
        table: the table (first column `seq`, then `event_id`, unique).
        record: the record class, built from the columns' values.
        problems: every rule a record breaks in a window (empty when it may be stored).
        time_column: the timestamp the store's window bounds and reads filter on.
        arrays: binary columns a snapshot frame decodes into numpy arrays of this dtype.
    """

    table: sa.Table
    record: Callable[..., R]
    problems: Callable[[R, ConfirmedWindow], list[str]]
    time_column: str
    arrays: Mapping[str, np.dtype] = field(default_factory=dict)
    columns: tuple[str, ...] = field(init=False)
    _fields: Callable[[R], tuple[Any, ...]] = field(init=False, repr=False)
    _time_index: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        columns = tuple(column.name for column in self.table.columns)[1:]
        # Frozen: the derived attributes are set once, here.
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "_fields", operator.attrgetter(*columns))
        object.__setattr__(self, "_time_index", columns.index(self.time_column))

    @property
    def time(self) -> sa.Column:
        return self.table.c[self.time_column]

    def values(self, record: R) -> tuple[Any, ...]:
        """The record's column values in order, its timestamp in UTC."""
        values = self._fields(record)
        at = self._time_index
        return (*values[:at], as_utc(values[at]), *values[at + 1 :])

    def sqlite_values(self, record: R) -> tuple[Any, ...]:
        """`values` with the timestamp as the text SQLAlchemy's SQLite dialect reads back."""
        values = self._fields(record)
        at = self._time_index
        return (*values[:at], as_utc(values[at]).strftime(SQLITE_DATETIME), *values[at + 1 :])

    def from_row(self, row: Mapping[str, Any]) -> R:
        """The record of a stored row (binary columns as bytes, the timestamp in UTC)."""
        values = {name: row[name] for name in self.columns}
        values[self.time_column] = as_utc(values[self.time_column])
        for column in self.table.columns:
            if isinstance(column.type, sa.LargeBinary):
                values[column.name] = bytes(values[column.name])
        return self.record(**values)


TASK_RECORDS: RecordTable[TaskRecord] = RecordTable(
    CONFIRMED_TASKS, TaskRecord, record_problems, "confirmed_at", {"pixels": np.dtype(np.uint8)}
)
FACE_RECORDS: RecordTable[FaceRecord] = RecordTable(
    FACE_VECTORS, FaceRecord, face_record_problems, "captured_at", {"vector": VECTOR_DTYPE}
)
