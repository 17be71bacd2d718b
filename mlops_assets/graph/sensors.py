"""Sensors: replicate task events and trigger retraining (built in `graph.source_sensors`);
retrain on the champion's health; announce how every run ended and alert when one broke.

Each sensor reads its resources and cursor and returns a run request or a skip reason; the
logic lives in `retraining` (replication, triggers, health, alerts, outcomes).
"""

import json
import logging
from datetime import UTC, datetime

import dagster as dg

from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.backends.notifier import AlertDeliveryError, Notifier
from mlops_assets.constants import TRAINING_DATA
from mlops_assets.contracts.events import Event
from mlops_assets.graph.assets.monitoring import latest_report
from mlops_assets.graph.jobs import retrain_job
from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.graph.run_log import run_facts, step_errors
from mlops_assets.graph.source_sensors import event_source_sensor_for
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining import alerts as alert_rules
from mlops_assets.retraining.health import HealthPolicy, health_verdict
from mlops_assets.retraining.outcomes import outcome_events
from mlops_assets.retraining.replication import TASK_EVENTS
from mlops_assets.retraining.triggers import is_preview

log = logging.getLogger(__name__)


def task_events_sensor_for(
    min_new_labels: int, max_messages: int, max_seconds: float, interval_s: int
) -> dg.SensorDefinition:
    """Builds `task_events_sensor` with its thresholds and bounds: replicates task events into
    `confirmed_tasks` and requests `retrain_job` once `min_new_labels` new labels arrived."""
    return event_source_sensor_for(
        TASK_EVENTS,
        name="task_events_sensor",
        target=retrain_job,
        training_data=dg.AssetKey(TRAINING_DATA),
        min_new=min_new_labels,
        max_messages=max_messages,
        max_seconds=max_seconds,
        interval_s=interval_s,
    )


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


def champion_health_sensor_for(policy: HealthPolicy, interval_s: int) -> dg.SensorDefinition:
    """Builds `champion_health_sensor` with its target, minimum sample and cooldown."""

    @dg.sensor(
        name="champion_health_sensor",
        job=retrain_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests retrain_job when the newest champion_monitor shows live accuracy "
        f"below {policy.target_accuracy:.2f} or drift, on at least {policy.min_samples} samples, "
        f"at most once per {policy.cooldown.total_seconds() / 3600:g} h; alerts on both.",
    )
    def champion_health_sensor(
        context: dg.SensorEvaluationContext,
        data_store: DataStoreResource,
        alerts: AlertsResource,
    ) -> dg.SensorResult:
        report = latest_report(context.instance)
        if report is None:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(
                    "no champion_monitor report yet: champion_monitor_schedule (or a "
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


def publish_all(queue: EventQueue, events: list[tuple[str, Event]]) -> None:
    """Publishes (queue name, event) pairs, each durably before the next."""
    for name, event in events:
        queue.publish(name, [event])


def _outcome_events(
    instance: dg.DagsterInstance, run: dg.DagsterRun, model_name: str, error: str | None = None
) -> list[tuple[str, Event]]:
    # Only a retraining run has a decision to announce; any failed run announces its failure.
    facts = run_facts(instance, run.run_id) if run.job_name == retrain_job.name else None
    return outcome_events(facts, run.run_id, run.job_name, model_name, error)


@dg.run_status_sensor(
    name="training_completed_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[retrain_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publishes TrainingCompletedEvent (and ModelPromoted) when retrain_job succeeds.",
)
def training_completed_sensor(
    context: dg.RunStatusSensorContext,
    event_queue: EventQueueResource,
    model_registry: RegistryResource,
) -> None:
    run = context.dagster_run
    events = _outcome_events(context.instance, run, model_registry.model_name)
    # Raising here fails the tick, so the cursor stays and the next tick publishes again (with
    # the same event ids, which consumers dedupe).
    publish_all(event_queue.get_client(), events)
    names = ", ".join(type(e).__name__ for _, e in events) or "nothing (no decision in this run)"
    context.log.info(f"run {run.run_id}: published {names}")


@dg.run_failure_sensor(
    name="pipeline_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publishes PipelineFailed and sends an alert when a run fails after its retries "
    "(it broke: a gate saying no is a successful run); for retrain_job also the "
    "TrainingCompletedEvent (failed).",
)
def pipeline_failure_sensor(
    context: dg.RunFailureSensorContext,
    event_queue: EventQueueResource,
    model_registry: RegistryResource,
    alerts: AlertsResource,
) -> None:
    run = context.dagster_run
    error = step_errors(
        context.get_step_failure_events(), context.failure_event.message or "run failed"
    )
    publish_all(
        event_queue.get_client(),
        _outcome_events(context.instance, run, model_registry.model_name, error),
    )
    instance = context.instance
    default_retries = instance.run_retries_max_retries if instance.run_retries_enabled else 0
    if alert_rules.will_be_retried(run.tags, default_retries):
        context.log.info(f"run {run.run_id} failed and will be retried: no alert yet")
        return
    alert = f"ALERT pipeline failed: job {run.job_name} run {run.run_id}: {error[:500]}"
    context.log.error(alert)
    log.error(alert)
    attempt = int(run.tags.get(alert_rules.RETRY_NUMBER_TAG, 0))
    # Raising fails the tick and the next tick sends again; the dedup key stops a double page.
    alerts.get_client().send(alert_rules.run_failed(run.job_name, run.run_id, error, attempt))
