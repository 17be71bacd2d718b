"""End to end on embedded defaults: demo events -> sensor tick -> retraining -> events out."""

import dagster as dg
import pytest

from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    TASK_CONFIRMED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
    ModelPromoted,
    TrainingCompletedEvent,
    parse_event,
)
from mlops_assets.demo.commands import publish_demo_events
from mlops_assets.graph.partitions import month_key
from mlops_assets_tests.support.photo_graph import PHOTO

pytestmark = pytest.mark.model


def test_demo_events_trigger_a_retraining_that_announces_its_outcome(
    settings, definitions, resources, backends, demo_records
):
    assert publish_demo_events(settings) == len(demo_records)
    queue, store = backends.event_queue, backends.data_store
    sensor = definitions.get_sensor_def("task_confirmed_events_sensor")

    with dg.instance_for_test() as instance:
        replication = {
            "event_queue": resources["event_queue"],
            "data_store": resources["data_store"],
        }
        with dg.build_sensor_context(instance=instance, resources=replication) as context:
            tick = sensor(context)
        [request] = tick.run_requests
        assert store.count() == len(demo_records) and queue.depth(TASK_CONFIRMED_QUEUE) == 0
        assert request.run_key == f"task_photos-task-events-hwm-{store.high_water_mark()}"

        assert request.partition_key == month_key(store.newest_confirmed_at())
        run = definitions.resolve_job_def(PHOTO.retrain_job).execute_in_process(
            instance=instance, tags=request.tags, partition_key=request.partition_key
        )
        assert run.success
        with dg.build_run_status_sensor_context(
            sensor_name="training_completed_sensor",
            dagster_event=run.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=run.dagster_run,
            resources={
                "event_queue": resources["event_queue"],
                "model_registry": resources["model_registry"],
            },
        ) as context:
            definitions.get_sensor_def("training_completed_sensor")(context)

        with dg.build_sensor_context(
            instance=instance, resources=replication, cursor=tick.cursor
        ) as context:
            after = sensor(context)
        assert not after.run_requests
        assert "0 new confirmed labels" in after.skip_reason.skip_message

    [message] = queue.fetch(TRAINING_COMPLETED_QUEUE, 10, max_seconds=2)
    completed = parse_event(message.body, TrainingCompletedEvent)
    assert completed.run_id == run.run_id and completed.outcome == "promoted"
    assert (completed.challenger_version, completed.champion_version) == ("1", "1")
    assert completed.previous_champion_version is None
    assert {g.name for g in completed.gates} == {
        "accuracy_above_minimum",
        "p95_latency_below_maximum",
        "not_worse_than_champion",
    }
    assert all(g.passed for g in completed.gates)
    assert completed.metrics["challenger_accuracy"] > 0.9
    assert completed.data_version.startswith(f"{request.partition_key}-")
    [promotion] = queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=2)
    promoted = parse_event(promotion.body, ModelPromoted)
    assert (promoted.version, promoted.previous_version) == ("1", None)
