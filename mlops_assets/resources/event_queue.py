"""The event queue resource: a dagster facade over `mlops_assets.queues` (see its semantics there).

The queue logic lives in plain classes so the inference server can consume the same queues
without importing dagster; these resources only carry the configuration and the lifecycle.
"""

from abc import abstractmethod
from collections.abc import Sequence

import dagster as dg
from pydantic import Field, PrivateAttr

from mlops_assets.events import Event
from mlops_assets.queues.base import DeadLetter, EventQueue, Message


class EventQueueResource(dg.ConfigurableResource):
    """Durable queues of JSON events with acks, redelivery and a dead-letter queue per queue."""

    prefix: str = Field(
        default="",
        description="Prepended to every queue name (isolates tests and environments).",
    )

    _queue: EventQueue | None = PrivateAttr(default=None)

    @abstractmethod
    def build(self) -> EventQueue:
        """Returns a plain queue object configured like this resource (one connection)."""

    @property
    def queue(self) -> EventQueue:
        """The plain queue this resource delegates to, made on first use."""
        if self._queue is None:
            self._queue = self.build()
        return self._queue

    def queue_name(self, queue: str) -> str:
        """Returns the physical name of a logical queue."""
        return self.queue.queue_name(queue)

    def publish(self, queue: str, events: Sequence[Event]) -> None:
        """Publishes events durably (see `EventQueue.publish`)."""
        self.queue.publish(queue, events)

    def publish_bodies(self, queue: str, bodies: Sequence[bytes]) -> None:
        """Publishes raw message bodies durably (the Helper service's side; tests use it too)."""
        self.queue.publish_bodies(queue, bodies)

    def fetch(self, queue: str, max_messages: int, max_seconds: float) -> list[Message]:
        """Receives up to `max_messages` without acknowledging them (see `EventQueue.fetch`)."""
        return self.queue.fetch(queue, max_messages, max_seconds)

    def ack(self, queue: str, messages: Sequence[Message]) -> None:
        """Acknowledges messages after their effect is durable; they are gone from the queue."""
        self.queue.ack(queue, messages)

    def dead_letter(self, queue: str, rejected: Sequence[tuple[Message, str]]) -> None:
        """Moves unreadable messages, as (message, reason) pairs, to the dead-letter queue."""
        self.queue.dead_letter(queue, rejected)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Returns up to `limit` dead-lettered messages of a queue, oldest first, leaving them."""
        return self.queue.dead_letters(queue, limit)

    def depth(self, queue: str) -> int:
        """Returns how many messages wait in a queue (not counting unacknowledged ones)."""
        return self.queue.depth(queue)

    def remove(self, queue: str) -> None:
        """Deletes a queue with its dead-letter queue and every message (tests, benchmarks)."""
        self.queue.remove(queue)

    def open(self) -> None:
        """Opens the connection (also done lazily by the first call that needs it)."""
        self.queue.open()

    def close(self) -> None:
        """Closes connections; unacknowledged messages become deliverable again."""
        if self._queue is not None:
            self._queue.close()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.open()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()
