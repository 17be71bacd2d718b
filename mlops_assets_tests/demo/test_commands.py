"""The demo's commands: demo tasks travel the event path."""

from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
from mlops_assets.demo import commands


def test_publish_demo_events_puts_every_demo_task_on_the_queue(settings, backends, demo_records):
    assert commands.publish_demo_events(settings) == len(demo_records)
    assert backends.event_queue.depth(TASK_CONFIRMED_QUEUE) == len(demo_records)
    assert backends.data_store.count() == 0


def test_seed_demo_goes_through_the_queue_and_dead_letters_nothing(settings, backends):
    added = commands.seed_demo(settings)
    assert added == backends.data_store.count() > 0
    assert commands.seed_demo(settings) == 0  # republished events are duplicates
    queue = backends.event_queue
    assert queue.depth(TASK_CONFIRMED_QUEUE) == 0
    assert queue.dead_letters(TASK_CONFIRMED_QUEUE) == []
