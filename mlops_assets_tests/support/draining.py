"""Draining a source's queue in tests, and the property every source's drain must have: any list
of bodies ends stored once, absorbed as an identical duplicate, or dead-lettered with its
reason, and nothing is left on the queue."""

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.retraining.replication import TASK_EVENTS, EventSource, replicate
from mlops_assets_tests.support import hostile


def drain(queue, store, published: int, source: EventSource = TASK_EVENTS):
    """Replicates until every published message was received (a broker delivers
    asynchronously), then once more to show nothing is left; returns the summed counts
    `(received, inserted, dead_lettered, conflicts)`."""
    received = inserted = dead = conflicts = 0
    for _ in range(50):
        result = replicate(
            queue, store, max_messages=10**6, max_seconds=5, batch_size=64, source=source
        )
        received += result.received
        inserted += result.inserted
        dead += result.dead_lettered
        conflicts += result.conflicts
        if received >= published:
            break
    leftover = replicate(queue, store, max_messages=10**6, max_seconds=0.5, source=source)
    assert leftover.received == 0
    return received, inserted, dead, conflicts


def reasons(queue, source: EventSource = TASK_EVENTS) -> dict[bytes, str]:
    """Each dead-lettered body of the source's queue with its reason."""
    return {letter.body: letter.reason for letter in queue.dead_letters(source.queue, 10**4)}


def check_any_bodies(
    queue_factory, store, bodies: st.SearchStrategy[bytes], source: EventSource, examples: int
) -> Counter:
    """Runs the property over generated lists of `bodies` on one queue and store backend.

    Returns:
        The figures of the run (examples include shrinking): examples, bodies, dead letters,
        conflicting duplicates.
    """
    counts: Counter = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(bodies, min_size=1, max_size=12))
    def check(published):
        expected = hostile.expected_outcome(published, store.window, source.event)
        queue = queue_factory()
        store.clear()
        queue.remove(source.queue)
        queue.publish_bodies(source.queue, published)
        received, inserted, dead, conflicts = drain(queue, store, len(published), source)
        assert received == len(published)
        assert (inserted, dead, conflicts) == (
            len(expected.stored),
            len(expected.dead),
            expected.conflicts,
        )
        stored = store.stored(expected.stored, source.table)
        assert {event_id: record for event_id, (_, record) in stored.items()} == expected.stored
        letters = queue.dead_letters(source.queue, 10**4)
        # Each body with its own reason: the contract's, or the conflict's.
        assert sorted((letter.body, hostile.reason_kind(letter.reason)) for letter in letters) == (
            sorted(
                (body, hostile.reason_kind(reason))
                for body, reason in zip(expected.dead, expected.reasons, strict=True)
            )
        )
        counts["examples"] += 1
        counts["bodies"] += len(published)
        counts["dead letters"] += len(letters)
        counts["conflicting duplicates"] += conflicts

    check()
    return counts
