"""Sensors: replicate each source's events and trigger its models' retraining; retrain a model
on its champion's health.

Each sensor reads its resources and cursor and returns run requests or a skip reason; the logic
lives in `retraining` (replication, triggers, health, alerts). The run-status sensors that
announce how runs ended are in `graph/run_sensors.py`.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from mlops_assets.backends.notifier import AlertDeliveryError, Notifier
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.assets.monitoring import latest_report
from mlops_assets.graph.model_names import ModelNames, events_sensor_name
from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.retraining import alerts as alert_rules
from mlops_assets.retraining.health import HealthPolicy, health_verdict
from mlops_assets.retraining.replication import replicate
from mlops_assets.retraining.triggers import decide_retrain, is_preview, parse_cursor


def last_snapshot_high_water_mark(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    """The store's high-water mark that the newest materialization of the `training_data` at
    `key` used."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return 0
    value = event.asset_materialization.metadata.get("high_water_mark")
    return int(value.value) if value is not None else 0


def parse_source_cursor(cursor: str | None) -> dict[str, int]:
    """A source sensor's cursor: each model's store high-water mark at its last run request."""
    if not cursor or not cursor.startswith("{"):
        return {}
    return {name: parse_cursor(str(mark)) for name, mark in json.loads(cursor).items()}


def task_events_sensor_for(
    queue: str,
    models: Sequence[ModelSpec],
    jobs: Sequence["dg.UnresolvedAssetJobDefinition"],
    min_new_labels: int,
    max_messages: int,
    max_seconds: float,
    interval_s: int,
) -> dg.SensorDefinition:
    """Builds the replication sensor of the task-events queue `queue`: one sensor per source,
    requesting the retraining job of every model that reads it.

    Args:
        queue: the source's logical queue (`SourceSpec.queue`).
        models: the models whose source is this queue.
        jobs: their retraining jobs, in the same order.
        min_new_labels: new labels that justify a model's retraining run.
        max_messages: messages one tick drains at most.
        max_seconds: seconds one tick drains at most.
        interval_s: seconds between ticks.
    """
    retrained = ", ".join(job.name for job in jobs)

    @dg.sensor(
        name=events_sensor_name(queue),
        jobs=list(jobs),
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Replicates TaskConfirmedEvents from {queue} into the training data store "
        f"and requests {retrained} once {min_new_labels} new labels arrived. Preview does not "
        "consume.",
    )
    def task_events_sensor(
        context: dg.SensorEvaluationContext,
        event_queue: EventQueueResource,
        data_store: DataStoreResource,
    ) -> dg.SensorResult:
        store = data_store.get_client()
        preview = is_preview(context.log_key, context.repository_name)
        if preview:
            context.log.info("preview: leaving the queue untouched, reading the store only")
        else:
            drained = replicate(event_queue.get_client(), store, max_messages, max_seconds)
            context.log.info(drained.summary())
        cursor = parse_source_cursor(context.cursor)
        high_water_mark = store.high_water_mark()
        requests, skipped = [], []
        for model in models:
            names = ModelNames(model.name)
            baseline = max(
                last_snapshot_high_water_mark(context.instance, names.training_data),
                cursor.get(model.name, 0),
            )
            decision = decide_retrain(
                high_water_mark, baseline, store.count(baseline), min_new_labels
            )
            if not decision.retrain:
                skipped.append(f"{model.name}: {decision.skip_reason()}")
                continue
            cursor[model.name] = decision.high_water_mark
            # The newest month's as-of partition trains on everything older, as the schedule
            # does.
            requests.append(
                dg.RunRequest(
                    run_key=f"{model.name}-{decision.run_key}",
                    job_name=names.retrain_job,
                    partition_key=existing_month_key(store.newest_confirmed_at()),
                    tags={
                        "mlops/trigger": "task_events",
                        "mlops/model": model.name,
                        "mlops/high_water_mark": str(decision.high_water_mark),
                        "mlops/new_labels": str(decision.new_labels),
                    },
                )
            )
        if not requests:
            note = "preview, queue not drained: " if preview else ""
            return dg.SensorResult(skip_reason=dg.SkipReason(note + "; ".join(skipped)))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    return task_events_sensor


def send_alerts(notifier: Notifier, alerts: list, log) -> None:
    """Sends each alert; a channel that refuses is logged, and the next tick tries again."""
    for alert in alerts:
        try:
            notifier.send(alert)
        except AlertDeliveryError as error:
            log.error(str(error))


def parse_health_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    """champion_health_sensor's cursor: when it last requested a run, and that run's key."""
    if not cursor:
        return None, None
    state = json.loads(cursor)
    value = state.get("last_trigger_at")
    return (datetime.fromisoformat(value) if value else None), state.get("last_run_key")


def champion_health_sensor_for(
    model: ModelSpec,
    job: "dg.UnresolvedAssetJobDefinition",
    policy: HealthPolicy,
    interval_s: int,
) -> dg.SensorDefinition:
    """Builds `<model>_champion_health_sensor` with its target, minimum sample and cooldown."""
    names = ModelNames(model.name)

    @dg.sensor(
        name=names.health_sensor,
        job=job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests {job.name} when the newest champion_monitor shows live accuracy "
        f"below {policy.target_accuracy:.2f} or drift, on at least {policy.min_samples} samples, "
        f"at most once per {policy.cooldown.total_seconds() / 3600:g} h; alerts on both.",
    )
    def champion_health_sensor(
        context: dg.SensorEvaluationContext,
        data_store: DataStoreResource,
        alerts: AlertsResource,
    ) -> dg.SensorResult:
        report = latest_report(context.instance, names.champion_monitor)
        if report is None:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"no champion_monitor report yet: {names.monitor_schedule} (or a "
                    "materialization in the UI) makes one"
                )
            )
        if not is_preview(context.log_key, context.repository_name):
            send_alerts(
                alerts.get_client(), alert_rules.champion_health(report, policy), context.log
            )
        last, last_key = parse_health_cursor(context.cursor)
        verdict = health_verdict(report, policy, last, datetime.now(UTC))
        if not verdict.retrain:
            return dg.SensorResult(skip_reason=dg.SkipReason(verdict.reason))
        if verdict.run_key == last_key:
            # Dagster would skip the duplicate key; the cooldown must not restart without a run.
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    f"run {last_key} was already requested for this evidence; waiting for a new "
                    f"monitor report: {verdict.evidence}"
                )
            )
        newest = data_store.get_client().newest_confirmed_at() or report.window_end
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=verdict.run_key,
                    partition_key=existing_month_key(newest),
                    tags={
                        "mlops/trigger": verdict.trigger,
                        "mlops/champion_version": report.champion_version,
                        "mlops/window_end": report.window_end.isoformat(),
                        "mlops/evidence": verdict.evidence[:1000],
                    },
                )
            ],
            cursor=json.dumps(
                {"last_trigger_at": datetime.now(UTC).isoformat(), "last_run_key": verdict.run_key}
            ),
        )

    return champion_health_sensor
