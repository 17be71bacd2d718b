"""The production event queue resource: RabbitMQ through pika (logic in `queues/`)."""

from pydantic import Field

from mlops_assets.queues.rabbitmq_queue import RabbitMQQueue
from mlops_assets.resources.event_queue import EventQueueResource


class RabbitMQEventQueue(EventQueueResource):
    """Durable quorum queues on a RabbitMQ broker (chosen by RABBITMQ_URL)."""

    url: str = Field(description="AMQP URL, e.g. amqp://user:password@host:5672/%2F")
    prefetch: int = Field(
        default=2000,
        description="Most unacknowledged messages the broker hands this consumer; a fetch "
        "returns at most half of it and prefetches the next batch.",
    )
    heartbeat_s: int = Field(default=30, description="AMQP heartbeat interval in seconds.")
    connect_attempts: int = Field(
        default=5, description="Connection attempts (exponential backoff) before giving up."
    )
    max_length: int | None = Field(
        default=None,
        description="Optional x-max-length of each queue; beyond it publishes are refused "
        "(x-overflow reject-publish), never dropped.",
    )

    def build(self) -> RabbitMQQueue:
        return RabbitMQQueue(
            self.url,
            prefix=self.prefix,
            prefetch=self.prefetch,
            heartbeat_s=self.heartbeat_s,
            connect_attempts=self.connect_attempts,
            max_length=self.max_length,
        )

    def declare(self, queue: str) -> str:
        """Declares a queue with its dead-letter exchange and queue; returns its name."""
        return self.queue.declare(queue)
