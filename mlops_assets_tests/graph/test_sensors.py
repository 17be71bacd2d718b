"""Sensors: task events -> store -> retrain requests; run outcomes -> events on the queues."""

import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.contracts.events import (
    PIPELINE_FAILED_QUEUE,
    TASK_CONFIRMED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
    PipelineFailed,
    TaskConfirmedEvent,
    TrainingCompletedEvent,
    parse_event,
)
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.graph.jobs import retrain_job_for
from mlops_assets.graph.partitions import month_key, monthly_partitions
from mlops_assets.graph.run_sensors import retraining_model, run_outcome_sensors
from mlops_assets.graph.sensors import champion_monitor_sensor_for
from mlops_assets.graph.source_sensors import event_source_sensor_for, source_for
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.retraining.monitor_policy import MonitorPolicy
from mlops_assets_tests.support.monitoring import constructed_report
from mlops_assets_tests.support.photo_graph import PHOTO
from mlops_assets_tests.support.receiver import http_receiver

Q = TASK_CONFIRMED_QUEUE
ROOT = Path(__file__).resolve().parents[2]
SPEC = load_fleet().model("task_photos")
JOB = retrain_job_for(SPEC)
sensor = event_source_sensor_for(
    source_for("task_photos", Q),
    [SPEC],
    [JOB],
    min_new=10,
    max_messages=1000,
    max_seconds=5,
    interval_s=30,
)
_, pipeline_failure_sensor = run_outcome_sensors([SPEC])


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def store(tmp_path):
    store = TrainingDataStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def publish(queue, records) -> None:
    queue.publish(Q, [TaskConfirmedEvent.from_record(r) for r in records])


def tick(instance, queue_factory, store, cursor=None, data_store=None, **context):
    """One tick of the sensor with resources over the test's queues and store."""
    resources = {
        "event_queue": queue_factory.resource(),
        "data_store": data_store or DataStoreResource(url=store.url),
    }
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources, **context
    ) as ctx:
        return sensor(ctx)


def test_below_threshold_skips_with_the_count(instance, queue_factory, store, demo_records):
    queue = queue_factory()
    publish(queue, demo_records[:6])
    queue.publish_bodies(Q, [b"not an event"])
    result = tick(instance, queue_factory, store)
    assert not result.run_requests
    assert "6 new confirmed labels beyond high-water mark 0" in result.skip_reason.skip_message
    assert store.count() == 6
    assert queue.depth(Q) == 0
    assert [d.body for d in queue.dead_letters(Q)] == [b"not an event"]


def test_threshold_requests_one_run_and_not_again(instance, queue_factory, store, demo_records):
    queue = queue_factory()
    publish(queue, demo_records[:6])
    assert not tick(instance, queue_factory, store).run_requests
    publish(queue, demo_records[6:10])
    result = tick(instance, queue_factory, store)
    assert [r.run_key for r in result.run_requests] == ["task_photos-task-events-hwm-10"]
    assert result.run_requests[0].tags["mlops/new_records"] == "10"
    assert result.run_requests[0].partition_key == month_key(store.newest_confirmed_at())
    assert json.loads(result.cursor) == {"task_photos": 10}
    assert result.run_requests[0].job_name == "task_photos_retrain_job"

    repeat = tick(instance, queue_factory, store, cursor=result.cursor)
    assert not repeat.run_requests
    assert "0 new confirmed labels" in repeat.skip_reason.skip_message
    # A tick retried without its cursor asks for the same run key: the daemon dedupes it.
    retried = tick(instance, queue_factory, store)
    assert [r.run_key for r in retried.run_requests] == ["task_photos-task-events-hwm-10"]


def test_new_labels_count_from_the_last_training_snapshot(
    instance, queue_factory, store, demo_records
):
    queue = queue_factory()
    publish(queue, demo_records[:12])
    tick(instance, queue_factory, store)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(PHOTO.training_data, metadata={"high_water_mark": 12})
    )
    publish(queue, demo_records[12:15])
    result = tick(instance, queue_factory, store)
    assert not result.run_requests
    assert "3 new confirmed labels beyond high-water mark 12" in result.skip_reason.skip_message


def test_hostile_events_never_lead_to_a_missing_partition(
    instance, queue_factory, store, demo_records
):
    """Events before the first partition (allowed by a configured earliest date), in 2100 and
    in 9999: the drain goes on, and the run asks for a partition that exists."""
    queue = queue_factory()
    old = [replace(r, confirmed_at=r.confirmed_at.replace(year=2021)) for r in demo_records[:10]]
    hostile = [
        json.dumps(
            {**json.loads(TaskConfirmedEvent.from_record(old[0]).to_json()), **change}
        ).encode()
        for change in (
            {"event_id": "future", "confirmed_at": "2100-01-01T00:00:00+00:00"},
            {"event_id": "year-9999", "confirmed_at": "9999-12-31T23:59:59+00:00"},
        )
    ]
    queue.publish_bodies(Q, [TaskConfirmedEvent.from_record(r).to_json() for r in old])
    queue.publish_bodies(Q, hostile + [b"[" * 100_000 + b"]" * 100_000])
    since_2020 = DataStoreResource(url=store.url, earliest_confirmed_at="2020-01-01T00:00:00Z")
    result = tick(instance, queue_factory, store, data_store=since_2020)
    (request,) = result.run_requests
    assert request.partition_key == "2024-01-01"
    assert monthly_partitions.has_partition_key(request.partition_key)
    assert len(queue.dead_letters(Q)) == 3


def test_preview_does_not_consume(instance, queue_factory, store, demo_records):
    queue = queue_factory()
    publish(queue, demo_records[:12])
    # The UI's Preview and `dagster sensor preview` evaluate with a repository and no tick.
    result = tick(
        instance,
        queue_factory,
        store,
        repository_name="__repository__",
        sensor_name="task_events_sensor",
    )
    assert not result.run_requests
    assert result.skip_reason.skip_message.startswith(
        "preview, queue not drained: task_photos: 0 new"
    )
    assert store.count() == 0
    assert queue.depth(Q) == 12


def training_raises(monkeypatch, *_):
    def broken(*args, **kwargs):
        raise RuntimeError("the trainer crashed")

    monkeypatch.setattr("mlops_assets.graph.assets.training.train", broken)


def too_few_rows(_, backends, demo_records):
    backends.data_store.insert(demo_records[:30])


@pytest.mark.parametrize(
    ("breaks", "error_names"),
    [
        # The blocking data checks stop the run before training.
        (too_few_rows, "enough_rows"),
        (training_raises, "the trainer crashed"),
    ],
)
def test_a_broken_run_fails_publishes_pipeline_failed_and_alerts(
    breaks,
    error_names,
    monkeypatch,
    definitions,
    resources,
    backends,
    demo_records,
    instance,
    queue_factory,
    caplog,
):
    if breaks is training_raises:
        backends.data_store.insert(demo_records)
    breaks(monkeypatch, backends, demo_records)
    month = month_key(backends.data_store.newest_confirmed_at())
    result = definitions.resolve_job_def(PHOTO.retrain_job).execute_in_process(
        instance=instance, raise_on_error=False, partition_key=month
    )
    assert not result.success
    queue = queue_factory()
    with (
        dg.build_run_status_sensor_context(
            sensor_name="pipeline_failure_sensor",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={
                "event_queue": queue_factory.resource(),
                "model_registry": resources["model_registry"],
                "alerts": resources["alerts"],
            },
        ) as context,
        caplog.at_level(logging.ERROR),
    ):
        pipeline_failure_sensor(context.for_run_failure())
    assert f"ALERT pipeline failed: job task_photos_retrain_job run {result.run_id}" in caplog.text

    [failed] = queue.fetch(PIPELINE_FAILED_QUEUE, 10, max_seconds=2)
    event = parse_event(failed.body, PipelineFailed)
    assert event.run_id == result.run_id and error_names in event.error
    [completed] = queue.fetch(TRAINING_COMPLETED_QUEUE, 10, max_seconds=2)
    outcome = parse_event(completed.body, TrainingCompletedEvent)
    assert outcome.outcome == "failed" and outcome.champion_version is None
    assert backends.registry.champion() is None


def test_dagster_sensor_preview_leaves_the_queue_alone(settings, demo_records, tmp_path):
    """The real preview code path (the same evaluation as the UI's Preview button)."""
    queue = SqliteQueue(str(settings.resolved_event_queue_path))
    publish(queue, demo_records[:150])
    queue.close()
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    result = subprocess.run(
        [
            Path(sys.executable).parent / "dagster",
            "sensor",
            "preview",
            "task_confirmed_events_sensor",
        ]
        + ["-w", "workspace.yaml"],
        cwd=ROOT,
        env={**os.environ, "MLOPS_HOME": str(settings.home), "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "preview, queue not drained: task_photos: 0 new confirmed labels"
        in result.stdout + result.stderr
    )
    queue = SqliteQueue(str(settings.resolved_event_queue_path))
    assert queue.depth(Q) == 150
    queue.close()


# champion_monitor_sensor and the alerts: monitor reports on constructed windows, a real local
# HTTP receiver for the alerts.

HEALTH = MonitorPolicy(target_accuracy=0.90, min_samples=100, cooldown=timedelta(days=7))
monitor_sensor = champion_monitor_sensor_for(SPEC, JOB, HEALTH, interval_s=60)


@pytest.fixture
def receiver():
    with http_receiver() as received:
        yield received


def alerts_to(receiver, tmp_path) -> AlertsResource:
    return AlertsResource(
        sent_path=str(tmp_path / "alerts.db"), webhook_url=f"{receiver.base_url}/hook"
    )


def report_monitor(instance, report) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            PHOTO.champion_monitor,
            metadata={"report": dg.MetadataValue.json(report.model_dump(mode="json"))},
        )
    )


def monitor_tick(instance, store, alerts, cursor=None):
    resources = {"data_store": DataStoreResource(url=store.url), "alerts": alerts}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
        return monitor_sensor(ctx)


def test_monitor_sensor_waits_for_a_monitor_report(instance, store, receiver, tmp_path):
    result = monitor_tick(instance, store, alerts_to(receiver, tmp_path))
    assert "no champion_monitor report yet" in result.skip_reason.skip_message


def test_a_healthy_champion_skips_with_the_numbers_and_pages_nobody(
    instance, store, receiver, tmp_path
):
    report_monitor(instance, constructed_report(reference_month=11, window_month=12))
    result = monitor_tick(instance, store, alerts_to(receiver, tmp_path))
    assert not result.run_requests
    message = result.skip_reason.skip_message
    assert message.startswith("no evidence: live accuracy 0.9")
    assert "on 150 confirmed tasks (target 0.90)" in message and "input:mean_grey 0.0" in message
    assert receiver.requests == []


def test_drift_requests_one_run_alerts_once_then_cools_down(instance, store, receiver, tmp_path):
    report_monitor(instance, constructed_report(reference_month=15, window_month=16))
    alerts = alerts_to(receiver, tmp_path)
    first = monitor_tick(instance, store, alerts)
    [request] = first.run_requests
    assert request.run_key == "champion-monitor-drift-v3-20250501T000000"
    assert request.tags["mlops/trigger"] == "drift"
    assert request.tags["mlops/champion_version"] == "3"
    assert "input:mean_grey 0.7" in request.tags["mlops/evidence"]
    assert request.partition_key == "2025-05-01"  # the empty store: the window's end month
    assert [body["kind"] for body in receiver.bodies("/hook")] == ["drift_detected"]

    again = monitor_tick(instance, store, alerts, cursor=first.cursor)
    assert not again.run_requests
    assert "drift evidence, but in cooldown: last trigger 0.0 h ago" in (
        again.skip_reason.skip_message
    )
    # A tick retried without its cursor asks for the same run key: the daemon dedupes it.
    retried = monitor_tick(instance, store, alerts)
    assert [r.run_key for r in retried.run_requests] == [request.run_key]
    assert len(receiver.requests) == 1  # the same evidence pages once


def test_case8_the_same_evidence_after_the_cooldown_keeps_the_cursor(
    instance, store, receiver, tmp_path
):
    report_monitor(instance, constructed_report(reference_month=15, window_month=16))
    alerts = alerts_to(receiver, tmp_path)
    first = monitor_tick(instance, store, alerts)
    [request] = first.run_requests
    # The cooldown has passed, but the newest report is still the one that requested the run.
    state = json.loads(first.cursor)
    state["last_trigger_at"] = (datetime.now(UTC) - HEALTH.cooldown * 2).isoformat()
    later = monitor_tick(instance, store, alerts, cursor=json.dumps(state))
    assert later.run_requests == [] and later.cursor is None
    assert f"run {request.run_key} was already requested" in later.skip_reason.skip_message


def test_a_degraded_champion_is_a_performance_trigger_and_a_critical_alert(
    instance, store, receiver, tmp_path, demo_records
):
    store.insert(demo_records[:10])
    report_monitor(instance, constructed_report(11, 12, error_rate=0.2))
    result = monitor_tick(instance, store, alerts_to(receiver, tmp_path))
    [request] = result.run_requests
    assert request.tags["mlops/trigger"] == "performance"
    assert request.partition_key == month_key(store.newest_confirmed_at())
    [alert] = receiver.bodies("/hook")
    assert alert["kind"] == "champion_below_target" and alert["severity"] == "critical"
    assert "below target: live accuracy 0.8" in alert["summary"]


def failing_job_run(instance, tags=None):
    @dg.op
    def breaks():
        raise RuntimeError("the disk is full")

    @dg.job(name="broken_job")
    def broken_job():
        breaks()

    return broken_job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)


def failure_tick(instance, result, resources, alerts):
    with dg.build_run_status_sensor_context(
        sensor_name="pipeline_failure_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={
            "event_queue": resources["event_queue"],
            "model_registry": resources["model_registry"],
            "alerts": alerts,
        },
    ) as context:
        pipeline_failure_sensor(context.for_run_failure())


def test_a_failed_run_alerts_once_after_its_last_retry(instance, resources, receiver, tmp_path):
    alerts = alerts_to(receiver, tmp_path)
    retried_later = failing_job_run(
        instance, {"dagster/max_retries": "2", "dagster/retry_number": "1"}
    )
    failure_tick(instance, retried_later, resources, alerts)
    assert receiver.requests == []

    last_try = failing_job_run(instance, {"dagster/max_retries": "2", "dagster/retry_number": "2"})
    failure_tick(instance, last_try, resources, alerts)
    failure_tick(instance, last_try, resources, alerts)  # the tick repeated
    [alert] = receiver.bodies("/hook")
    assert alert["kind"] == "run_failed" and alert["key"] == f"run-failed-{last_try.run_id}"
    assert "broken_job failed" in alert["summary"] and "attempt 3" in alert["summary"]
    assert "the disk is full" in alert["details"]["error"]


def test_a_run_is_a_model_retraining_by_its_job_or_its_one_chain():
    face = load_fleet().model("face_verifier")
    models = [SPEC, face]

    def run(job: str, *keys: dg.AssetKey) -> dg.DagsterRun:
        return dg.DagsterRun(job_name=job, asset_selection=frozenset(keys) or None)

    assert retraining_model(run(PHOTO.retrain_job), models) == SPEC
    # What the automation sensors launch: the implicit asset job over one model's chain.
    assert retraining_model(run("__ASSET_JOB", *PHOTO.retraining_keys), models) == SPEC
    face_chain = [dg.AssetKey(["face_verifier", k.path[-1]]) for k in PHOTO.retraining_keys]
    assert retraining_model(run("__ASSET_JOB", *face_chain), models) == face
    # Not a retraining: the monitor, or one run over two models' chains.
    assert retraining_model(run(PHOTO.monitor_job, PHOTO.champion_monitor), models) is None
    both = [*PHOTO.retraining_keys, *face_chain]
    assert retraining_model(run("__ASSET_JOB", *both), models) is None
