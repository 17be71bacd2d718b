"""Event-based replication: task events from the queue into the training data store.

Order per batch: fetch (unacknowledged) -> dead-letter the unreadable -> insert the valid ones,
ignoring event ids already stored, in one committed transaction -> ack. A crash anywhere before
the ack leaves the batch on the queue; its redelivery inserts nothing twice.
"""

import logging
import time
from dataclasses import dataclass

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.contracts.events import (
    TASK_CONFIRMED_QUEUE,
    InvalidEvent,
    TaskConfirmedEvent,
    parse_event,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replication:
    """What one bounded drain did."""

    received: int
    inserted: int
    dead_lettered: int
    batches: int
    seconds: float

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted - self.dead_lettered

    def summary(self) -> str:
        return (
            f"replicated {self.received} task events in {self.batches} batches "
            f"({self.seconds:.2f} s): {self.inserted} new, {self.duplicates} duplicate, "
            f"{self.dead_lettered} dead-lettered"
        )


def replicate(
    queue: EventQueue,
    store: TrainingDataStore,
    max_messages: int,
    max_seconds: float,
    batch_size: int = 1000,
) -> Replication:
    """Drains task events into the store, bounded in count and time.

    Args:
        queue: where the Helper service publishes `TaskConfirmedEvent`s.
        store: the training data store (idempotent on `event_id`).
        max_messages: stop after about this many messages.
        max_seconds: stop starting new batches after this long.
        batch_size: messages per fetch / commit / ack round.

    Returns:
        Counts of what was received, stored and dead-lettered.
    """
    started = time.monotonic()
    received = inserted = dead = batches = 0
    while received < max_messages:
        remaining = max_seconds - (time.monotonic() - started)
        if remaining <= 0:
            break
        batch = queue.fetch(
            TASK_CONFIRMED_QUEUE, min(batch_size, max_messages - received), remaining
        )
        if not batch:
            break
        batches += 1
        received += len(batch)
        valid, records, rejected, seen = [], [], [], set()
        for message in batch:
            try:
                event = parse_event(message.body, TaskConfirmedEvent)
            except InvalidEvent as error:
                rejected.append((message, error.reason))
                continue
            valid.append(message)
            if event.event_id not in seen:
                seen.add(event.event_id)
                records.append(event.to_record())
        if rejected:
            for _, reason in rejected:
                log.warning("dead-lettering a task event: %s", reason)
            queue.dead_letter(TASK_CONFIRMED_QUEUE, rejected)
            dead += len(rejected)
        inserted += store.insert(records)
        queue.ack(TASK_CONFIRMED_QUEUE, valid)
    return Replication(received, inserted, dead, batches, time.monotonic() - started)
