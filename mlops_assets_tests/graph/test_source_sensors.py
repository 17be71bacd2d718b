"""Event source sensors: the face source's sensor replicates face events into `face_vectors` and
requests the face models' retraining jobs, beside the task events' sensor (one sensor per source
queue), ticked with `dg.build_sensor_context` against a real Dagster instance and real queues and
stores."""

import json

import dagster as dg
import pytest

from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent
from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.graph.jobs import retrain_job_for
from mlops_assets.graph.partitions import month_key, monthly_partitions
from mlops_assets.graph.source_sensors import event_source_sensor_for, source_for
from mlops_assets.resources.data_store import DataStoreResource

Q = FACE_REGISTERED_QUEUE
# A small synthetic month: 3 identities x 4 captures.
SCENARIO = FaceScenario(identities_per_month=3, vectors_per_identity=4)
TRAINING_DATA = dg.AssetKey(["face_verifier", "training_data"])


@dg.asset(key=TRAINING_DATA, partitions_def=monthly_partitions)
def face_training_data(data_store: DataStoreResource) -> dg.MaterializeResult:
    """Stands in for the face verifier's snapshot: records how far it read `face_vectors`."""
    mark = data_store.get_client().high_water_mark(FACE_RECORDS)
    return dg.MaterializeResult(metadata={"high_water_mark": mark})


face_job = dg.define_asset_job(
    "face_verifier_retrain_job", selection=[face_training_data], partitions_def=monthly_partitions
)
FACE_SPEC = load_fleet().model("face_verifier")
sensor = event_source_sensor_for(
    source_for("face_vectors", Q),
    [FACE_SPEC],
    [face_job],
    min_new=20,
    max_messages=1000,
    max_seconds=5,
    interval_s=30,
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(instance, queue_factory, any_store, evaluated=sensor, cursor=None, **context):
    resources = {
        "event_queue": queue_factory.resource(),
        "data_store": DataStoreResource(url=any_store.url),
    }
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources, **context
    ) as ctx:
        return evaluated(ctx)


def publish_month(queue, month: int) -> list:
    events = month_face_events(SCENARIO, month)
    queue.publish(Q, events)
    return events


def test_below_the_threshold_it_replicates_and_skips_with_the_count(
    instance, queue_factory, any_store
):
    queue = queue_factory()
    publish_month(queue, 1)
    queue.publish_bodies(Q, [b'{"event_type": "FaceVectorRegisteredEvent"'])
    result = tick(instance, queue_factory, any_store)
    assert not result.run_requests
    assert "12 new face vectors beyond high-water mark 0" in result.skip_reason.skip_message
    assert "retraining needs 20" in result.skip_reason.skip_message
    assert any_store.count(table=FACE_RECORDS) == 12 and any_store.count() == 0
    assert queue.depth(Q) == 0
    [letter] = queue.dead_letters(Q)
    assert "not JSON" in letter.reason


def test_the_threshold_requests_one_run_of_the_target_and_not_again(
    instance, queue_factory, any_store
):
    queue = queue_factory()
    publish_month(queue, 1)
    assert not tick(instance, queue_factory, any_store).run_requests
    events = publish_month(queue, 2)
    result = tick(instance, queue_factory, any_store)
    [request] = result.run_requests
    assert request.run_key == "face_verifier-face-events-hwm-24"
    assert request.job_name == "face_verifier_retrain_job"
    assert request.tags == {
        "mlops/trigger": "face_events",
        "mlops/model": "face_verifier",
        "mlops/high_water_mark": "24",
        "mlops/new_records": "24",
    }
    newest = max(event.captured_at for event in events)
    assert request.partition_key == month_key(newest) == month_key(SCENARIO.calendar.month_start(2))
    assert json.loads(result.cursor) == {"face_verifier": 24}
    repeat = tick(instance, queue_factory, any_store, cursor=result.cursor)
    assert not repeat.run_requests
    assert "0 new face vectors beyond high-water mark 24" in repeat.skip_reason.skip_message


def test_the_baseline_is_what_the_last_snapshot_read(instance, queue_factory, any_store):
    """The run the sensor asks for materializes the snapshot; the next tick, even without its
    cursor, counts only vectors beyond what that snapshot read."""
    queue = queue_factory()
    publish_month(queue, 1)
    publish_month(queue, 2)
    [request] = tick(instance, queue_factory, any_store).run_requests
    definitions = dg.Definitions(
        assets=[face_training_data],
        jobs=[face_job],
        sensors=[sensor],
        resources={
            "event_queue": queue_factory.resource(),
            "data_store": DataStoreResource(url=any_store.url),
        },
    )
    run = definitions.resolve_job_def(face_job.name).execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags
    )
    assert run.success
    publish_month(queue, 3)
    result = tick(instance, queue_factory, any_store)
    assert not result.run_requests
    assert "12 new face vectors beyond high-water mark 24" in result.skip_reason.skip_message


def test_one_sensor_per_source_each_drains_only_its_own_queue(
    instance, queue_factory, any_store, demo_records
):
    queue = queue_factory()
    publish_month(queue, 1)
    queue.publish(
        TASK_CONFIRMED_QUEUE, [TaskConfirmedEvent.from_record(r) for r in demo_records[:5]]
    )
    tick(instance, queue_factory, any_store)
    assert queue.depth(TASK_CONFIRMED_QUEUE) == 5 and any_store.count() == 0
    task_spec = load_fleet().model("task_photos")
    task_sensor = event_source_sensor_for(
        source_for("task_photos", TASK_CONFIRMED_QUEUE),
        [task_spec],
        [retrain_job_for(task_spec)],
        min_new=10,
        max_messages=1000,
        max_seconds=5,
        interval_s=30,
    )
    result = tick(instance, queue_factory, any_store, evaluated=task_sensor)
    assert "5 new confirmed labels beyond high-water mark 0" in result.skip_reason.skip_message
    assert any_store.count() == 5 and any_store.count(table=FACE_RECORDS) == 12
    assert queue.depth(TASK_CONFIRMED_QUEUE) == 0


def test_preview_leaves_the_face_queue_alone(instance, queue_factory, any_store):
    queue = queue_factory()
    publish_month(queue, 1)
    result = tick(
        instance,
        queue_factory,
        any_store,
        repository_name="__repository__",
        sensor_name="face_registered_events_sensor",
    )
    assert result.skip_reason.skip_message.startswith(
        "preview, queue not drained: face_verifier: 0 new face"
    )
    assert queue.depth(Q) == 12 and any_store.count(table=FACE_RECORDS) == 0
