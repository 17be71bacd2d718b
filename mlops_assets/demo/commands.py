"""The demo's use cases behind `mlops-assets demo | seed-demo | publish-demo-events`.

The demo stands in for the Helper service: it publishes confirmed tasks as TaskConfirmedEvents
and replicates them as `task_confirmed_events_sensor` does, then replays two years month by month.
"""

import logging
import shutil
import sys
from collections.abc import Sequence

import dagster as dg

from mlops_assets.backends import factory
from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, Event, TaskConfirmedEvent
from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.records import TaskRecord
from mlops_assets.definitions import build_definitions, monitor_config, reconstructable_retrain_job
from mlops_assets.demo import policies, policy_report, replay, report
from mlops_assets.demo.cascade import FleetCascade
from mlops_assets.demo.face_source import FaceScenario, demo_face_events, month_face_events
from mlops_assets.demo.risk_replay import RISK_MODEL
from mlops_assets.demo.source import Scenario, demo_tasks
from mlops_assets.demo.spec import DEMO_NAMES
from mlops_assets.retraining.replication import FACE_EVENTS, TASK_EVENTS, EventSource, replicate
from mlops_assets.settings import Settings

log = logging.getLogger("mlops_assets")


def publish_demo_events(settings: Settings) -> int:
    """Publishes the demo's confirmed tasks as TaskConfirmedEvents, as the Helper service would."""
    events = [TaskConfirmedEvent.from_record(record) for record in demo_tasks()]
    return _publish(settings, TASK_CONFIRMED_QUEUE, events)


def publish_demo_face_events(settings: Settings, scenario: FaceScenario | None = None) -> int:
    """Publishes every month's synthetic face registrations as FaceVectorRegisteredEvents, as
    the Auth service would (oldest month first)."""
    return _publish(settings, FACE_REGISTERED_QUEUE, demo_face_events(scenario or FaceScenario()))


def _publish(settings: Settings, queue_name: str, events: Sequence[Event]) -> int:
    queue = factory.event_queue(settings)
    try:
        queue.publish(queue_name, events)
        name = type(events[0]).__name__ if events else "events"
        log.info("published %d %ss to %s", len(events), name, queue.queue_name(queue_name))
    finally:
        queue.close()
    return len(events)


def deliver_events(
    queue: EventQueue,
    store: TrainingDataStore,
    events: Sequence[Event],
    source: EventSource = TASK_EVENTS,
) -> int:
    """Publishes a source's events on its queue, then replicates them as its sensor does.

    Returns:
        How many records were new to the source's table.
    """
    queue.publish(source.queue, events)
    return replicate(queue, store, max_messages=10**9, max_seconds=600, source=source).inserted


def deliver_through_events(
    queue: EventQueue, store: TrainingDataStore, records: Sequence[TaskRecord]
) -> int:
    """Publishes records as TaskConfirmedEvents, then replicates them as the events sensor does.

    Returns:
        How many records were new to the store.
    """
    return deliver_events(queue, store, [TaskConfirmedEvent.from_record(r) for r in records])


def deliver_face_month(
    queue: EventQueue, store: TrainingDataStore, scenario: FaceScenario, month: int
) -> int:
    """Publishes one month of the synthetic face registrations as the Auth service would
    (`FaceVectorRegisteredEvent`s on `face.registered`), then replicates them into
    `face_vectors` as the face source's sensor does (the replay calls it month by month).

    Returns:
        How many vectors were new to the store.
    """
    return deliver_events(queue, store, month_face_events(scenario, month), FACE_EVENTS)


def seed_demo(settings: Settings) -> int:
    """Fills the training data store through the event path: publish, then replicate."""
    store, queue = factory.data_store(settings), factory.event_queue(settings)
    try:
        added = deliver_through_events(queue, store, demo_tasks())
        log.info("data store %s: %d new records, %d in all", store.url, added, store.count())
    finally:
        queue.close()
        store.close()
    return added


def _reset_embedded_state(settings: Settings) -> None:
    """Starts the demo from an empty data store and registry (embedded defaults only)."""
    if settings.data_store_url or settings.tracking_uri:
        log.warning("demo against configured backends: nothing is reset, results accumulate")
        return
    home = settings.home_dir
    for name in ("training_data.db", "mlflow.db"):
        for path in home.glob(f"{name}*"):
            path.unlink()
    shutil.rmtree(home / "mlartifacts", ignore_errors=True)
    shutil.rmtree(home / "policies", ignore_errors=True)
    # Events left on the embedded queue would otherwise arrive in the replay's first month.
    if not settings.resolved_rabbitmq_url:
        for path in home.glob("events.db*"):
            path.unlink()


def monitor_champion(
    definitions: dg.Definitions, instance: dg.DagsterInstance, settings: Settings
) -> None:
    """Materializes the demo model's `champion_monitor` on the replayed data: its spec's
    thresholds (or the settings' overrides), a month's
    window anchored to the newest confirmed task (the data is historical, not live)."""
    config = {
        **monitor_config(settings),
        "window_days": 30,
        "window_anchor": "newest_confirmed_task",
    }
    op = DEMO_NAMES.champion_monitor.to_python_identifier()
    definitions.resolve_job_def(DEMO_NAMES.monitor_job).execute_in_process(
        run_config={"ops": {op: {"config": config}}, **replay.QUIET},
        instance=instance,
        raise_on_error=False,
        tags={"mlops_assets/replay": "true"},
    )


def run_demo(settings: Settings) -> int:
    """Replays two years month by month on the configured backends and reports who won.

    Returns:
        The exit status: 0 when a champion serves at the end.
    """
    _reset_embedded_state(settings)
    scenario = Scenario()
    store, queue = factory.data_store(settings), factory.event_queue(settings)
    registry = factory.registry(settings)
    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(DEMO_NAMES.retrain_job)
    # min_improvement is verification_report's default, as for every other launch path.
    run_config = replay.QUIET
    if settings.executor != "in_process":
        # Steps in other processes: each loads the job from the definitions module by name.
        job = reconstructable_retrain_job(DEMO_NAMES.model)
    fleet = load_fleet(settings.models_file)
    risk_model = fleet.model(RISK_MODEL) if RISK_MODEL in fleet.names else None
    try:
        with dg.DagsterInstance.get() as instance:
            # The fleet's months in order: each task_photos month, the face verifier's, then
            # the confirmation_risk group's automation tick.
            cascade = FleetCascade(
                definitions,
                instance,
                scenario,
                lambda events: deliver_events(queue, store, events, FACE_EVENTS),
                risk_model,
                run_config,
            )
            results = replay.run_replay(
                job,
                instance,
                scenario,
                deliver=lambda records: deliver_through_events(queue, store, records),
                champion_version=lambda: c.version if (c := registry.champion()) else None,
                run_config=run_config,
                progress=True,
                monitor=lambda: monitor_champion(definitions, instance, settings),
                after_month=cascade.after_month,
            )
            log.info(
                "the same stream under the volume and evidence policies and the old promotion "
                "rule (a few minutes)"
            )
            policy_runs = policies.compare_policies(
                results,
                settings.home_dir / "policies",
                scenario,
                first_month=12,
                run_config=run_config,
            )
            folder = report.publish_report(
                settings, instance, results, scenario, policy_runs, cascade.risk_section()
            )
            counts = report.instance_counts(instance, results)
    finally:
        queue.close()
        store.close()
    totals = report.summary(results)
    sys.stdout.write(
        f"{report.table_markdown(results)}\n\n{totals}\n\n"
        f"retraining policies on the same stream:\n"
        f"{policy_report.policies_markdown(policy_runs, scenario)}\n\n"
        f"promotion rules on the same stream:\n{policy_report.rules_markdown(policy_runs)}\n\n"
        f"{cascade.report_markdown()}"
        f"in the Dagster UI: runs {counts['runs']}, champion_model materialized for "
        f"{counts['champion_model_materialized']}\n"
        f"report: {folder / 'report.md'} (plots: {folder / 'accuracy.png'}, "
        f"{folder / 'policies.png'})\n"
        "look at it: `make dev` -> http://127.0.0.1:3000 (Dagster), `make mlflow-ui`\n"
    )
    return 0 if totals["final_champion"] else 1
