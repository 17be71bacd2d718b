"""The event queue: one interface, two backends (embedded SQLite, RabbitMQ); no dagster import.

Delivery is at least once. A consumer `fetch`es a batch (the messages stay unacknowledged),
makes its effect durable, then `ack`s; a consumer that dies before acking gets its messages
redelivered to the next one. Duplicates are normal, so consumers are idempotent on `event_id`.
A message the consumer cannot read goes to the queue's dead-letter queue with `dead_letter`.

The pipeline uses these through `mlops_assets.resources.event_queue` (dagster resources); the
inference server uses them directly, so it deploys without dagster.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mlops_assets.contracts.events import Event

# The most message bytes one fetch returns (beyond its first message): a queue of huge bodies
# costs a consumer one bounded batch at a time, not `max_messages` of them.
FETCH_MAX_BYTES = 8 * 1024 * 1024


class Message(NamedTuple):
    """One delivery: `tag` identifies it to `ack` and `dead_letter` on the same queue object;
    `deliveries` counts this one and every earlier delivery left unsettled."""

    tag: int
    body: bytes
    redelivered: bool
    deliveries: int = 1


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message and why it was set aside."""

    body: bytes
    reason: str


class EventQueue(ABC):
    """Durable queues of JSON events with acks, redelivery and a dead-letter queue per queue.

    One object is one consumer/publisher (one connection), used by one thread at a time.
    `prefix` is prepended to every queue name (isolates tests and environments).
    """

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def queue_name(self, queue: str) -> str:
        """Returns the physical name of a logical queue."""
        return f"{self.prefix}{queue}"

    def publish(self, queue: str, events: Sequence[Event]) -> None:
        """Publishes events durably: when this returns, the queue holds every one of them.

        Args:
            queue: logical queue name (see `mlops_assets.contracts.events`).
            events: the events, published in order.
        """
        self.publish_bodies(queue, [event.to_json() for event in events])

    @abstractmethod
    def publish_bodies(self, queue: str, bodies: Sequence[bytes]) -> None:
        """Publishes raw message bodies durably (the Helper service's side; tests use it too)."""

    @abstractmethod
    def fetch(self, queue: str, max_messages: int, max_seconds: float) -> list[Message]:
        """Receives up to `max_messages` without acknowledging them.

        Args:
            queue: logical queue name.
            max_messages: batch size; a backend may return fewer (prefetch bound, and no more
                messages once the batch holds `FETCH_MAX_BYTES`).
            max_seconds: the most time to spend waiting for messages.

        Returns:
            The batch, possibly empty; it stays unacknowledged until `ack` or `dead_letter`.
        """

    @abstractmethod
    def ack(self, queue: str, messages: Sequence[Message]) -> None:
        """Acknowledges messages after their effect is durable; they are gone from the queue."""

    @abstractmethod
    def dead_letter(self, queue: str, rejected: Sequence[tuple[Message, str]]) -> None:
        """Moves unreadable messages to the queue's dead-letter queue.

        Args:
            queue: logical queue name.
            rejected: (message, reason) pairs.
        """

    @abstractmethod
    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Returns up to `limit` dead-lettered messages of a queue, oldest first, leaving them."""

    @abstractmethod
    def requeue_dead_letters(self, queue: str, reason_contains: str | None = None) -> int:
        """Moves dead letters back onto their queue, oldest first (after a producer is fixed).

        Each letter is moved at most once per call and is gone from the dead-letter queue once
        it is back on the queue; a letter moved twice (a crash between the two steps) is a
        duplicate, which consumers absorb by `event_id`. A letter that is still invalid simply
        comes back to the dead-letter queue on the next drain.

        Args:
            queue: logical queue name.
            reason_contains: move only the letters whose reason contains this text.

        Returns:
            How many letters were moved.
        """

    @abstractmethod
    def depth(self, queue: str) -> int:
        """Returns how many messages wait in a queue (not counting unacknowledged ones)."""

    @abstractmethod
    def remove(self, queue: str) -> None:
        """Deletes a queue with its dead-letter queue and every message (tests, benchmarks)."""

    @abstractmethod
    def open(self) -> None:
        """Opens the connection (also done lazily by the first call that needs it)."""

    @abstractmethod
    def close(self) -> None:
        """Closes connections; unacknowledged messages become deliverable again."""
