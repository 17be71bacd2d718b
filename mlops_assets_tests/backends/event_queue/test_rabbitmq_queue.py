"""RabbitMQ-only behaviour: queue arguments, and reconnecting after the network drops.

The network is a small TCP proxy in front of the shared broker, so dropping connections never
touches the broker itself.
"""

import socket
import threading
import uuid

import pika
import pytest

from mlops_assets.backends.event_queue.rabbitmq_queue import RabbitMQQueue
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
from mlops_assets_tests.support.services import RABBITMQ_URL, service_missing

pytestmark = pytest.mark.integration
Q = TASK_CONFIRMED_QUEUE


class Proxy:
    """Forwards 127.0.0.1:<port> to the broker; `drop()` cuts every open connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone would leave it listening
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        self.drop()


@pytest.fixture
def broker_address() -> tuple[str, int]:
    parameters = pika.URLParameters(RABBITMQ_URL)
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPConnectionError as error:
        service_missing(f"RabbitMQ at {RABBITMQ_URL} does not answer: {error!r}")
    return parameters.host, parameters.port


@pytest.fixture
def proxy(broker_address):
    proxy = Proxy(broker_address)
    yield proxy
    proxy.close()


@pytest.fixture
def queues(proxy):
    """A queue talking through the proxy, and one talking to the broker directly."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    through = RabbitMQQueue(
        f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F", prefix=prefix, connect_attempts=3
    )
    direct = RabbitMQQueue(RABBITMQ_URL, prefix=prefix)
    yield through, direct
    through.close()
    direct.remove(Q)
    direct.close()


def receive_all(queue, expected: int) -> list:
    received = []
    for _ in range(50):
        batch = queue.fetch(Q, 100, max_seconds=1)
        queue.ack(Q, batch)
        received += batch
        if len(received) >= expected:
            break
    return received


def test_queues_are_durable_quorum_queues_with_a_dead_letter_queue(queues):
    _, direct = queues
    name = direct.declare(Q)
    channel = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).channel()
    # Redeclaring with other arguments fails, so these are the arguments the queue has.
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED"):
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": "classic"})
    channel = channel.connection.channel()
    assert channel.queue_declare(f"{name}.dead", passive=True).method.message_count == 0
    channel.connection.close()


def test_publish_reconnects_after_the_connection_drops(queues, proxy):
    through, direct = queues
    through.publish_bodies(Q, [b'{"n": 1}'])
    proxy.drop()
    through.publish_bodies(Q, [b'{"n": 2}'])  # finds the connection dead, reconnects, publishes
    assert sorted(m.body for m in receive_all(direct, 2)) == [b'{"n": 1}', b'{"n": 2}']


def test_a_batch_whose_ack_is_lost_is_redelivered(queues, proxy):
    through, direct = queues
    direct.publish_bodies(Q, [b'{"n": 1}', b'{"n": 2}'])
    batch = through.fetch(Q, 10, max_seconds=2)
    assert len(batch) == 2
    proxy.drop()
    through.ack(Q, batch)  # the connection is gone: logged, not raised
    again = receive_all(through, 2)  # reconnected; the broker requeued the unacked batch
    assert sorted(m.body for m in again) == [b'{"n": 1}', b'{"n": 2}']
    assert all(m.redelivered for m in again)


def test_connecting_gives_up_after_its_attempts(queues, proxy):
    through, _ = queues
    proxy.close()
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        through.open()
