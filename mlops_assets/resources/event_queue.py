"""The event queue resource: configuration and lifecycle of a plain `EventQueue`.

The queue logic lives in `mlops_assets.backends.event_queue` (the inference server consumes the
same queues without dagster); the backend is chosen in `backends.factory`.
"""

import dagster as dg
from pydantic import Field, PrivateAttr

from mlops_assets.backends import factory
from mlops_assets.backends.event_queue.base import EventQueue


class EventQueueResource(dg.ConfigurableResource):
    """Durable queues of JSON events with acks, redelivery and a dead-letter queue per queue."""

    rabbitmq_url: str | None = Field(
        default=None,
        description="RabbitMQ broker (RABBITMQ_URL); unset: the embedded SQLite queue file.",
    )
    sqlite_path: str = Field(description="File of the embedded SQLite queue.")
    prefix: str = Field(
        default="", description="Prepended to every queue name (isolates tests and environments)."
    )
    connect_attempts: int | None = Field(
        default=None,
        description="RabbitMQ: connection attempts with backoff before giving up (default 5).",
    )

    _client: EventQueue | None = PrivateAttr(default=None)

    def get_client(self) -> EventQueue:
        """The plain queue (one connection), made on first use and closed at teardown."""
        if self._client is None:
            self._client = factory.event_queue_for(
                self.rabbitmq_url, self.sqlite_path, self.prefix, self.connect_attempts
            )
        return self._client

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.get_client().open()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
