"""Contract tests of the event queue, run against the embedded SQLite queue and RabbitMQ."""

from mlops_assets.backends.event_queue.base import FETCH_MAX_BYTES
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, TRAINING_COMPLETED_QUEUE

Q = TASK_CONFIRMED_QUEUE


def bodies(n: int, start: int = 0) -> list[bytes]:
    return [b'{"n": %d}' % i for i in range(start, start + n)]


def drain(queue, max_messages: int = 1000) -> list:
    return queue.fetch(Q, max_messages, max_seconds=2)


def receive(queue, expected: int) -> list:
    """Fetches until `expected` messages came: a broker requeues a dead consumer's messages
    asynchronously, so one fetch may come too early. Bounded in rounds, not timed."""
    received = []
    for _ in range(50):
        received += drain(queue)
        if len(received) >= expected:
            break
    return received


def test_publish_fetch_ack_round_trip(queue_factory):
    queue = queue_factory()
    queue.publish_bodies(Q, bodies(5))
    assert queue.depth(Q) == 5
    batch = drain(queue)
    # Ordering is not part of the contract: compare as sets.
    assert sorted(m.body for m in batch) == sorted(bodies(5))
    assert not any(m.redelivered for m in batch)
    queue.ack(Q, batch)
    assert drain(queue) == []
    assert queue.depth(Q) == 0


def test_published_messages_survive_the_publisher(queue_factory):
    publisher = queue_factory()
    publisher.publish_bodies(Q, bodies(3))
    publisher.close()
    consumer = queue_factory()
    assert sorted(m.body for m in drain(consumer)) == sorted(bodies(3))


def test_unacked_messages_are_redelivered_after_the_consumer_dies(queue_factory):
    queue_factory().publish_bodies(Q, bodies(4))
    first = queue_factory()
    batch = drain(first)
    assert len(batch) == 4
    first.ack(Q, batch[:1])
    first.close()  # dies before acking the rest
    second = queue_factory()
    again = receive(second, 3)
    assert sorted(m.body for m in again) == sorted(m.body for m in batch[1:])
    assert all(m.redelivered for m in again)
    # Issue 26, item 3: consumers cap redeliveries by this count.
    assert [m.deliveries for m in batch] == [1] * 4
    assert [m.deliveries for m in again] == [2] * 3
    second.ack(Q, again)
    assert drain(second) == []


def test_a_fetch_of_huge_messages_stops_at_the_byte_bound(queue_factory):
    """Issue 26, item 2: a consumer asking for 1,000 messages of a queue of huge bodies holds
    one bounded batch, not all of them."""
    queue = queue_factory()
    huge = [bytes([65 + i]) * (FETCH_MAX_BYTES // 2 + 1) for i in range(3)]
    queue.publish_bodies(Q, huge)
    first = queue.fetch(Q, 1000, max_seconds=5)
    assert [m.body[:1] for m in first] == [b"A", b"B"]
    queue.ack(Q, first)
    assert [m.body[:1] for m in receive(queue, 1)] == [b"C"]


def test_a_held_message_is_not_delivered_to_another_consumer(queue_factory):
    queue_factory().publish_bodies(Q, bodies(6))
    first, second = queue_factory(), queue_factory()
    taken = first.fetch(Q, 4, max_seconds=2)
    assert len(taken) == 4
    concurrent = drain(second)
    assert not {m.body for m in taken} & {m.body for m in concurrent}
    first.close()  # whatever `first` held unacked goes to `second` now
    rest = receive(second, 6 - len(concurrent))
    assert sorted(m.body for m in concurrent + rest) == sorted(bodies(6))


def test_fetch_is_bounded_by_max_messages(queue_factory):
    queue = queue_factory()
    queue.publish_bodies(Q, bodies(10))
    batch = queue.fetch(Q, 3, max_seconds=2)
    assert len(batch) == 3
    queue.ack(Q, batch)
    queue.close()  # a subscribed consumer may already hold the next batch, unacked
    assert len(receive(queue_factory(), 7)) == 7


def test_fetch_from_an_empty_queue_returns_nothing(queue_factory):
    assert queue_factory().fetch(Q, 100, max_seconds=0.5) == []


def test_dead_lettered_messages_leave_the_queue_with_a_reason(queue_factory):
    queue = queue_factory()
    queue.publish_bodies(Q, [b"not json", b'{"ok": 1}'])
    batch = drain(queue)
    bad = next(m for m in batch if m.body == b"not json")
    good = next(m for m in batch if m.body != b"not json")
    queue.dead_letter(Q, [(bad, "not JSON")])
    queue.ack(Q, [good])
    queue.close()
    again = queue_factory()
    assert drain(again) == []
    letters = again.dead_letters(Q)
    assert [(letter.body, letter.reason) for letter in letters] == [(b"not json", "not JSON")]
    # Inspecting leaves the dead letters where they are.
    assert [letter.body for letter in again.dead_letters(Q)] == [b"not json"]


def test_requeue_moves_the_chosen_dead_letters_back_once(queue_factory):
    queue = queue_factory()
    queue.publish_bodies(Q, [b"a", b"b", b"c"])
    batch = sorted(drain(queue), key=lambda m: m.body)
    reasons = {b"a": "too early", b"b": "not JSON", b"c": "too early, again"}
    queue.dead_letter(Q, [(m, reasons[m.body]) for m in batch])
    assert queue.requeue_dead_letters(Q, reason_contains="too early") == 2
    assert queue.requeue_dead_letters(Q, reason_contains="too early") == 0
    assert [letter.body for letter in queue.dead_letters(Q)] == [b"b"]
    assert sorted(m.body for m in receive(queue, 2)) == [b"a", b"c"]
    assert queue.requeue_dead_letters(Q) == 1
    assert queue.dead_letters(Q) == []


def test_duplicates_are_delivered_not_swallowed(queue_factory):
    queue = queue_factory()
    queue.publish_bodies(Q, [b'{"id": "same"}', b'{"id": "same"}'])
    assert [m.body for m in drain(queue)] == [b'{"id": "same"}'] * 2


def test_queues_are_separate(queue_factory):
    queue = queue_factory()
    queue.publish_bodies(TRAINING_COMPLETED_QUEUE, bodies(2))
    assert drain(queue) == []
    assert len(queue.fetch(TRAINING_COMPLETED_QUEUE, 10, max_seconds=2)) == 2


def test_acking_part_of_a_batch_leaves_the_rest_unacked(queue_factory):
    queue_factory().publish_bodies(Q, bodies(4))
    first = queue_factory()
    batch = sorted(drain(first), key=lambda m: m.body)
    first.ack(Q, batch[1:])  # not the oldest one
    first.close()
    again = receive(queue_factory(), 1)
    assert [m.body for m in again] == [batch[0].body]
