"""The production event queue: RabbitMQ through pika, set up for at-least-once delivery.

Each logical queue `q` is a durable quorum queue with a dead-letter exchange `q.dlx` routing to
the quorum queue `q.dead` (dead-letter strategy at-least-once, which needs overflow
reject-publish). Messages are persistent and published with confirms and `mandatory`, so a
publish returns only once the broker has stored the message in a queue. Consumers use manual
acks and a bounded prefetch. pika neither reconnects nor is thread-safe: the queue object
reconnects with exponential backoff and is used by one thread at a time. No dagster import: the
inference server consumes it too.
"""

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import pika
import pika.exceptions as amqp

from mlops_assets.backends.event_queue.base import (
    FETCH_MAX_BYTES,
    DeadLetter,
    EventQueue,
    Message,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

PERSISTENT = pika.BasicProperties(
    delivery_mode=pika.DeliveryMode.Persistent.value, content_type="application/json"
)
# Errors after which a fresh connection may succeed.
CONNECTION_ERRORS = (
    amqp.AMQPConnectionError,
    amqp.ConnectionClosed,
    amqp.StreamLostError,
    amqp.ChannelWrongStateError,
    ConnectionError,
)


NACK_RETRIES = 5
# Header of a dead letter that says why it was set aside (AMQP's reject carries no reason).
REASON_HEADER = "x-mlops-reason"
REASON_MAX_CHARS = 1000


class RabbitMQQueue(EventQueue):
    """Durable quorum queues on a RabbitMQ broker (chosen by RABBITMQ_URL).

    Args:
        url: AMQP URL, e.g. amqp://user:password@host:5672/%2F
        prefix: prepended to every queue name.
        prefetch: most unacknowledged messages the broker hands this consumer; a fetch returns
            at most half of it and prefetches the next batch.
        heartbeat_s: AMQP heartbeat interval in seconds.
        connect_attempts: connection attempts (exponential backoff) before giving up.
        max_length: optional x-max-length of each queue; beyond it publishes are refused
            (x-overflow reject-publish), never dropped.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "",
        prefetch: int = 2000,
        heartbeat_s: int = 30,
        connect_attempts: int = 5,
        max_length: int | None = None,
    ) -> None:
        super().__init__(prefix)
        self.url = url
        self.prefetch = prefetch
        self.heartbeat_s = heartbeat_s
        self.connect_attempts = connect_attempts
        self.max_length = max_length
        self._connection: pika.BlockingConnection | None = None
        self._publisher = None
        self._consumer = None
        self._declared: set[str] = set()
        self._consuming: str | None = None
        self._unsettled: set[int] = set()
        self._qos = 0

    def open(self) -> None:
        if self._connection is not None and self._connection.is_open:
            return
        parameters = pika.URLParameters(self.url)
        parameters.heartbeat = self.heartbeat_s
        parameters.blocked_connection_timeout = 60
        delay = 0.5
        for attempt in range(1, self.connect_attempts + 1):
            try:
                self._connection = pika.BlockingConnection(parameters)
                break
            except amqp.AMQPConnectionError as error:
                if attempt == self.connect_attempts:
                    raise
                log.warning("RabbitMQ %s: %s; retrying in %.1f s", _safe(self.url), error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._publisher = self._connection.channel()
        self._publisher.confirm_delivery()
        self._consumer = self._connection.channel()
        self._declared = set()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        self._declared = set()
        self._consuming = None
        self._unsettled = set()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except CONNECTION_ERRORS:
                pass

    def declare(self, queue: str) -> str:
        """Declares a queue with its dead-letter exchange and queue; returns its name."""
        name = self.queue_name(queue)
        if name in self._declared:
            return name
        self.open()
        channel = self._consumer
        channel.exchange_declare(f"{name}.dlx", exchange_type="direct", durable=True)
        channel.queue_declare(f"{name}.dead", durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(f"{name}.dead", f"{name}.dlx", routing_key=name)
        arguments = {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": f"{name}.dlx",
            "x-dead-letter-routing-key": name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if self.max_length is not None:
            arguments["x-max-length"] = self.max_length
        channel.queue_declare(name, durable=True, arguments=arguments)
        self._declared.add(name)
        return name

    def publish_bodies(self, queue: str, bodies: Sequence[bytes]) -> None:
        sent = 0

        def publish_rest() -> None:
            nonlocal sent
            name = self.declare(queue)
            nacks = 0
            while sent < len(bodies):
                # Blocks until the broker confirms; raises UnroutableError / NackError otherwise.
                try:
                    self._publisher.basic_publish(
                        "", name, bodies[sent], properties=PERSISTENT, mandatory=True
                    )
                except amqp.NackError:
                    # A quorum queue nacks while it cannot take the message yet (a new queue
                    # electing its leader, or full under reject-publish): the message is not
                    # stored, so send it again after a pause, a bounded number of times.
                    nacks += 1
                    if nacks > NACK_RETRIES:
                        raise
                    time.sleep(0.05 * 2**nacks)
                    continue
                sent += 1

        # A retry after a lost connection may publish one message twice: consumers dedupe.
        self._with_reconnect(publish_rest)

    def fetch(self, queue: str, max_messages: int, max_seconds: float) -> list[Message]:
        def receive() -> list[Message]:
            name = self.declare(queue)
            channel = self._consumer
            limit = max(1, min(max_messages, self.prefetch))
            # Prefetch two batches: the broker streams the next batch while the caller writes
            # and acks this one. The consumer stays subscribed between fetches, so what it
            # holds beyond a batch is redelivered to others only when it closes.
            qos = min(2 * limit, self.prefetch)
            if (self._consuming, self._qos) != (name, qos):
                if self._consuming is not None:
                    channel.cancel()  # requeues what the broker sent beyond the last batch
                channel.basic_qos(prefetch_count=qos)
                self._consuming, self._qos = name, qos
            # Deliveries come in tag order, so a batch holds this channel's oldest tags.
            deadline = time.monotonic() + max_seconds
            batch: list[Message] = []
            unsettled = self._unsettled
            idle = min(0.1, max_seconds)
            size = 0
            for method, properties, body in channel.consume(name, inactivity_timeout=idle):
                if method is None:
                    break
                deliveries = _deliveries(method.redelivered, properties)
                batch.append(Message(method.delivery_tag, body, method.redelivered, deliveries))
                unsettled.add(method.delivery_tag)
                size += len(body)
                # pika reads the socket only while asked for a delivery: stopping here leaves
                # the rest of a queue of huge bodies with the broker (and the socket's buffers).
                if len(batch) >= limit or size >= FETCH_MAX_BYTES:
                    return batch
                if time.monotonic() >= deadline:
                    break
            if len(batch) < limit:
                # The queue ran dry (or time ran out): unsubscribe, so an idle connection does
                # not sit on messages that other consumers could take.
                channel.cancel()
                self._consuming, self._qos = None, 0
            return batch

        return self._with_reconnect(receive)

    def ack(self, queue: str, messages: Sequence[Message]) -> None:
        if not messages:
            return
        tags = {m.tag for m in messages}
        newest = max(tags)
        try:
            if all(t in tags for t in self._unsettled if t <= newest):
                # The usual case, a whole batch: one ack settles every tag up to the newest.
                self._consumer.basic_ack(newest, multiple=True)
            else:
                for tag in sorted(tags):
                    self._consumer.basic_ack(tag)
            # basic.ack has no reply; a synchronous call on the same channel is a barrier that
            # returns only after the broker's channel has processed the acks.
            self._consumer.basic_qos(prefetch_count=self._qos or self.prefetch)
        except CONNECTION_ERRORS as error:
            # The broker requeues unacknowledged messages of a lost connection; the consumer's
            # idempotent write absorbs the redelivery.
            log.warning("ack lost with the connection (%s): messages will be redelivered", error)
            self.close()
            return
        self._unsettled -= tags

    def dead_letter(self, queue: str, rejected: Sequence[tuple[Message, str]]) -> None:
        if not rejected:
            return
        name = self.declare(queue)
        for message, reason in rejected:
            # Published to `q.dlx` with the reason in a header, confirmed, and only then acked
            # (AMQP 0-9-1 cannot attach a reason to a reject). A crash between the two leaves
            # the message on `q` and may leave a copy in `q.dead`; consumers dedupe by event_id.
            log.warning("dead-lettering a message of %s: %s", name, reason)
            properties = pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent.value,
                content_type="application/json",
                headers={REASON_HEADER: reason[:REASON_MAX_CHARS]},
            )
            self._publisher.basic_publish(
                f"{name}.dlx", name, message.body, properties=properties, mandatory=True
            )
        for message, _ in rejected:
            self._consumer.basic_ack(message.tag)
            self._unsettled.discard(message.tag)

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        name = self.declare(queue)
        channel = self._connection.channel()
        letters = []
        try:
            for _ in range(limit):
                method, properties, body = channel.basic_get(f"{name}.dead", auto_ack=False)
                if method is None:
                    break
                letters.append(DeadLetter(body=body, reason=_reason(properties)))
        finally:
            # Closing the channel returns the peeked messages to the dead-letter queue.
            channel.close()
        return letters

    def requeue_dead_letters(self, queue: str, reason_contains: str | None = None) -> int:
        name = self.declare(queue)
        channel = self._connection.channel()
        channel.confirm_delivery()
        moved = 0
        try:
            # Only the letters waiting now: a bounded walk, even if new ones arrive meanwhile.
            waiting = channel.queue_declare(f"{name}.dead", passive=True).method.message_count
            for _ in range(waiting):
                method, properties, body = channel.basic_get(f"{name}.dead", auto_ack=False)
                if method is None:
                    break
                if reason_contains is not None and reason_contains not in _reason(properties):
                    continue  # stays unacked on this channel until it closes
                channel.basic_publish("", name, body, properties=PERSISTENT, mandatory=True)
                channel.basic_ack(method.delivery_tag)
                moved += 1
        finally:
            # Closing the channel returns the letters it skipped to the dead-letter queue.
            channel.close()
        return moved

    def depth(self, queue: str) -> int:
        name = self.declare(queue)
        return self._consumer.queue_declare(name, passive=True).method.message_count

    def remove(self, queue: str) -> None:
        name = self.queue_name(queue)
        self.open()
        if self._consuming == name:
            self._consumer.cancel()
            self._consuming, self._qos = None, 0
        channel = self._connection.channel()
        for dead in (name, f"{name}.dead"):
            channel.queue_delete(dead)
        channel.exchange_delete(f"{name}.dlx")
        channel.close()
        self._declared.discard(name)

    def _with_reconnect(self, operation: Callable[[], T]) -> T:
        delay = 0.5
        for attempt in range(1, self.connect_attempts + 1):
            try:
                self.open()
                return operation()
            except CONNECTION_ERRORS as error:
                self.close()
                if attempt == self.connect_attempts:
                    raise
                log.warning("RabbitMQ connection lost (%s); reconnecting in %.1f s", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")


def _deliveries(redelivered: bool, properties: pika.BasicProperties) -> int:
    # Quorum queues count earlier deliveries in `x-delivery-count` (set from the first
    # redelivery on); without it a redelivery says only "at least twice".
    count = (properties.headers or {}).get("x-delivery-count")
    if isinstance(count, int):
        return count + 1
    return 2 if redelivered else 1


def _reason(properties: pika.BasicProperties) -> str:
    headers = properties.headers or {}
    if REASON_HEADER in headers:
        return _text(headers[REASON_HEADER])
    deaths = headers.get("x-death") or []
    if not deaths:
        return "dead-lettered"
    death = deaths[0]
    return f"{_text(death.get('reason'))} from {_text(death.get('queue'))}"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _safe(url: str) -> str:
    return pika.URLParameters(url).host
