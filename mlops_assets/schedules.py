"""Schedules: retrain every night, whatever the event traffic was."""

import dagster as dg

from mlops_assets.jobs import retrain_job


def nightly_retrain_schedule_for(timezone: str) -> dg.ScheduleDefinition:
    """Builds the 02:00 nightly retraining schedule in `timezone`."""
    return dg.ScheduleDefinition(
        name="nightly_retrain_schedule",
        job=retrain_job,
        cron_schedule="0 2 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Retrains at 02:00 every night regardless of new labels.",
    )
