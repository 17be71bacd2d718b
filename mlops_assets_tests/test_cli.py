"""The command line: demo events through the event path, and runs announcing their outcome."""

from mlops_assets import cli
from mlops_assets.events import (
    PIPELINE_FAILED_QUEUE,
    TASK_CONFIRMED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
    PipelineFailed,
    TrainingCompletedEvent,
    parse_event,
)


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


def test_an_in_process_run_announces_its_failure(
    settings, resources, demo_records, tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    resources["data_store"].insert(demo_records[:30])  # too few rows: the data checks fail
    result = cli.run_retraining(settings)
    assert not result.success
    queue = resources["event_queue"]
    [completed] = queue.fetch(TRAINING_COMPLETED_QUEUE, 10, max_seconds=1)
    assert parse_event(completed.body, TrainingCompletedEvent).outcome == "failed"
    [failed] = queue.fetch(PIPELINE_FAILED_QUEUE, 10, max_seconds=1)
    assert parse_event(failed.body, PipelineFailed).run_id == result.run_id
