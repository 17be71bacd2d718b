"""Event-based replication: events of a source from its queue into its table of the training data
store (task events into `confirmed_tasks`, face events into `face_vectors`).

Order per batch: fetch (unacknowledged) -> validate each body -> look up the event ids the store
already holds -> dead-letter the unreadable and the conflicting duplicates -> insert the new ones
in one committed transaction -> ack. A crash anywhere before the ack leaves the batch on the
queue; its redelivery inserts nothing twice.

No message can stop the drain: whatever its bytes, a message ends stored, acknowledged as an
identical duplicate, or dead-lettered with its reason. Only a failure that is not about a
message (the store or the queue unreachable) raises, and then nothing of the batch is acked.
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops_assets.backends.data_store import RecordRefused, TrainingDataStore
from mlops_assets.backends.event_queue.base import EventQueue, Message
from mlops_assets.backends.record_tables import FACE_RECORDS, TASK_RECORDS, RecordTable
from mlops_assets.contracts.events import (
    TASK_CONFIRMED_QUEUE,
    Event,
    InvalidEvent,
    TaskConfirmedEvent,
    parse_event,
)
from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE, FaceVectorRegisteredEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventSource:
    """One replicated source: its events, their queue and the store table they land in.

    Args:
        name: what its events are called in logs, summaries and run keys.
        records: what its stored records are called (a sensor's skip reason counts them).
        queue: the logical queue its producer publishes to.
        event: the event class (strict contract, `to_record()`).
        table: the store table of its records.
        shown: fields whose differing value a conflicting duplicate's reason shows (small ones;
            the others are only named).
    """

    name: str
    records: str
    queue: str
    event: type[Event]
    table: RecordTable
    shown: frozenset[str] = frozenset()


TASK_EVENTS = EventSource(
    "task events",
    "confirmed labels",
    TASK_CONFIRMED_QUEUE,
    TaskConfirmedEvent,
    TASK_RECORDS,
    frozenset({"label"}),
)
FACE_EVENTS = EventSource(
    "face events", "face vectors", FACE_REGISTERED_QUEUE, FaceVectorRegisteredEvent, FACE_RECORDS
)
# The event source of each fleet source kind that reads a queue (`ModelSpec.source.kind`).
EVENT_SOURCES: dict[str, EventSource] = {"task_photos": TASK_EVENTS, "face_vectors": FACE_EVENTS}


@dataclass(frozen=True)
class Replication:
    """What one bounded drain did; `conflicts` are counted in `dead_lettered` too."""

    received: int
    inserted: int
    dead_lettered: int
    batches: int
    seconds: float
    conflicts: int = 0
    source: str = TASK_EVENTS.name

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted - self.dead_lettered

    def summary(self) -> str:
        return (
            f"replicated {self.received} {self.source} in {self.batches} batches "
            f"({self.seconds:.2f} s): {self.inserted} new, {self.duplicates} duplicate, "
            f"{self.dead_lettered} dead-lettered ({self.conflicts} conflicting duplicates)"
        )


@dataclass
class _Sorted:
    """One batch sorted by fate: `valid` (message, record) pairs, `records` (the first record of
    each event id) for the store, `rejected` (message, reason) pairs for the dead-letter queue,
    and after `_settle` the messages to `ack`."""

    valid: list[tuple[Message, Any]]
    records: dict[str, Any]
    rejected: list[tuple[Message, str]]
    ack: list[Message]
    conflicts: int = 0


def replicate(
    queue: EventQueue,
    store: TrainingDataStore,
    max_messages: int,
    max_seconds: float,
    batch_size: int = 1000,
    source: EventSource = TASK_EVENTS,
) -> Replication:
    """Drains a source's events into its store table, bounded in count and time.

    Args:
        queue: where the producer publishes (the Helper service's `TaskConfirmedEvent`s, the
            Auth service's `FaceVectorRegisteredEvent`s).
        store: the training data store (idempotent on `event_id`); its `window` bounds the
            accepted `confirmed_at` / `captured_at`.
        max_messages: stop after about this many messages.
        max_seconds: stop starting new batches after this long.
        batch_size: messages per fetch / commit / ack round.
        source: which events: `TASK_EVENTS` (default) or `FACE_EVENTS`.

    Returns:
        Counts of what was received, stored, dead-lettered and found conflicting.
    """
    started = time.monotonic()
    received = inserted = dead = conflicts = batches = 0
    while received < max_messages:
        remaining = max_seconds - (time.monotonic() - started)
        if remaining <= 0:
            break
        batch = queue.fetch(source.queue, min(batch_size, max_messages - received), remaining)
        if not batch:
            break
        batches += 1
        received += len(batch)
        fates = _sort(batch, store, source)
        added = _insert(store, fates, source.table)
        # Looked up only when the insert skipped an event id, so new events cost no query.
        stored = store.stored(fates.records, source.table) if added < len(fates.records) else {}
        _settle(fates, stored, source)
        if fates.rejected:
            for _, reason in fates.rejected:
                log.warning("dead-lettering a %s: %s", source.event.__name__, reason)
            queue.dead_letter(source.queue, fates.rejected)
        inserted += added
        dead += len(fates.rejected)
        conflicts += fates.conflicts
        queue.ack(source.queue, fates.ack)
    seconds = time.monotonic() - started
    return Replication(received, inserted, dead, batches, seconds, conflicts, source.name)


def _sort(batch: Sequence[Message], store: TrainingDataStore, source: EventSource) -> _Sorted:
    fates = _Sorted(valid=[], records={}, rejected=[], ack=[])
    window = store.window.at(datetime.now(UTC))
    for message in batch:
        try:
            record = parse_event(message.body, source.event, window).to_record()
        except InvalidEvent as error:
            fates.rejected.append((message, error.reason))
            continue
        fates.valid.append((message, record))
        fates.records.setdefault(record.event_id, record)
    return fates


def _insert(store: TrainingDataStore, fates: _Sorted, table: RecordTable) -> int:
    try:
        return store.insert(fates.records.values(), table)
    except RecordRefused:
        pass
    # The store refused something the contract let through: find it record by record, so only
    # the refused messages are dead-lettered and the rest of the batch is stored.
    added = 0
    refused: dict[str, str] = {}
    for event_id, record in fates.records.items():
        try:
            added += store.insert([record], table)
        except RecordRefused as error:
            refused[event_id] = str(error)[:300]
    valid = []
    for message, record in fates.valid:
        if record.event_id in refused:
            reason = f"the training data store refused event {record.event_id!r}: "
            fates.rejected.append((message, reason + refused[record.event_id]))
        else:
            valid.append((message, record))
    fates.valid = valid
    for event_id in refused:
        del fates.records[event_id]
    return added


def _settle(fates: _Sorted, stored: dict[str, tuple[int, Any]], source: EventSource) -> None:
    # After the insert each event id holds one record: an earlier one (`stored`, when the
    # insert skipped the id) or this batch's first. The same content is a redelivery; other
    # content is a conflicting duplicate, named after the record that holds the id.
    for message, record in fates.valid:
        seq, holder = stored.get(record.event_id, (None, fates.records[record.event_id]))
        if holder is record or holder == record:
            fates.ack.append(message)
            continue
        where = (
            f"the stored event (seq {seq}"
            if seq is not None
            else "an event earlier in the same batch (stored now"
        )
        fates.rejected.append((message, _conflict(record, holder, where, source)))
        fates.conflicts += 1


def _conflict(record: Any, other: Any, where: str, source: EventSource) -> str:
    differs = [
        f"{name} ({getattr(record, name)})" if name in source.shown else name
        for name in source.table.columns[1:]
        if getattr(record, name) != getattr(other, name)
    ]
    return (
        f"conflicting duplicate: event_id {record.event_id!r} is already taken by {where}: "
        f"{other.summary()}); this message differs in {', '.join(differs)}"
    )
