"""Sensors of one model's champion: retrain it on its champion's health, and alert.

Each sensor reads its resources and cursor and returns run requests or a skip reason; the logic
lives in `retraining` (health, alerts). The event source sensors (one per source queue) are in
`graph/source_sensors.py`, the run-status sensors that announce how runs ended in
`graph/run_sensors.py`.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from mlops_assets.backends.notifier import AlertDeliveryError, Notifier
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.assets.monitoring import latest_report
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.retraining import alerts as alert_rules
from mlops_assets.retraining.monitor_policy import MonitorPolicy, monitor_verdict
from mlops_assets.retraining.triggers import is_preview


def send_alerts(notifier: Notifier, alerts: list, log) -> None:
    """Sends each alert; a channel that refuses is logged, and the next tick tries again."""
    for alert in alerts:
        try:
            notifier.send(alert)
        except AlertDeliveryError as error:
            log.error(str(error))


def parse_monitor_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    """champion_monitor_sensor's cursor: when it last requested a run, and that run's key."""
    if not cursor:
        return None, None
    state = json.loads(cursor)
    value = state.get("last_trigger_at")
    return (datetime.fromisoformat(value) if value else None), state.get("last_run_key")


def champion_monitor_sensor_for(
    model: ModelSpec,
    job: "dg.UnresolvedAssetJobDefinition",
    policy: MonitorPolicy,
    interval_s: int,
) -> dg.SensorDefinition:
    """Builds `<model>_champion_monitor_sensor` with its target, minimum sample and cooldown."""
    names = ModelNames(model.name)

    @dg.sensor(
        name=names.monitor_sensor,
        job=job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests {job.name} when the newest champion_monitor shows live accuracy "
        f"below {policy.target_accuracy:.2f} or drift, on at least {policy.min_samples} samples, "
        f"at most once per {policy.cooldown.total_seconds() / 3600:g} h; alerts on both.",
    )
    def champion_monitor_sensor(
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
                alerts.get_client(), alert_rules.monitor_alerts(report, policy), context.log
            )
        last, last_key = parse_monitor_cursor(context.cursor)
        verdict = monitor_verdict(report, policy, last, datetime.now(UTC))
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

    return champion_monitor_sensor
