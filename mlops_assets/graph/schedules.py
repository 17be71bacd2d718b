"""Schedules: retrain every night, whatever the event traffic was; evaluate the champion."""

import dagster as dg

from mlops_assets.graph.jobs import monitor_job, retrain_job
from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.resources.data_store import DataStoreResource


def nightly_retrain_schedule_for(timezone: str) -> dg.ScheduleDefinition:
    """Builds the 02:00 nightly retraining schedule in `timezone`.

    Each night retrains the month of the newest confirmed task (its as-of partition).
    """

    @dg.schedule(
        name="nightly_retrain_schedule",
        job=retrain_job,
        cron_schedule="0 2 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Retrains at 02:00 every night regardless of new labels.",
    )
    def nightly_retrain_schedule(
        context: dg.ScheduleEvaluationContext, data_store: DataStoreResource
    ) -> dg.RunRequest | dg.SkipReason:
        newest = data_store.get_client().newest_confirmed_at()
        if newest is None:
            return dg.SkipReason("the training data store is empty: nothing to train on")
        night = context.scheduled_execution_time.strftime("%Y-%m-%d")
        month = existing_month_key(newest, context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"nightly-{night}", partition_key=month)

    return nightly_retrain_schedule


def champion_monitor_schedule_for(
    cron: str, timezone: str, monitor_config: dict
) -> dg.ScheduleDefinition:
    """Builds the schedule that materializes `champion_monitor` with the settings' thresholds.

    Args:
        cron: when (MLOPS_MONITOR_CRON).
        timezone: the cron's timezone.
        monitor_config: `MonitorConfig` fields from the settings (window, thresholds).
    """
    return dg.ScheduleDefinition(
        name="champion_monitor_schedule",
        job=monitor_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        run_config={"ops": {"champion_monitor": {"config": monitor_config}}},
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Evaluates the serving champion on the newest window; "
        "champion_health_sensor acts on the result.",
    )
