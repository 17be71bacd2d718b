"""The command line: demo tasks travel the event path."""

from mlops_assets.tools import cli
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE


def test_publish_demo_events_puts_every_demo_task_on_the_queue(settings, resources, demo_records):
    assert cli.publish_demo_events(settings) == len(demo_records)
    assert resources["event_queue"].depth(TASK_CONFIRMED_QUEUE) == len(demo_records)
    assert resources["data_store"].count() == 0


def test_seed_demo_goes_through_the_queue_and_dead_letters_nothing(settings, resources):
    added = cli.seed_demo(settings)
    assert added == resources["data_store"].count() > 0
    assert cli.seed_demo(settings) == 0  # republished events are duplicates
    queue = resources["event_queue"]
    assert queue.depth(TASK_CONFIRMED_QUEUE) == 0
    assert queue.dead_letters(TASK_CONFIRMED_QUEUE) == []
    assert cli.show_dead_letters(settings) == 0
