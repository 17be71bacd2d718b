"""Schedules of one model: evaluate its champion on its monitor cron. (Its cadence is an
automation condition, graph.automation, not a schedule.)"""

import dagster as dg

from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames


def monitor_schedule_for(
    model: ModelSpec,
    job: "dg.UnresolvedAssetJobDefinition",
    timezone: str,
    monitor_config: dict,
    cron: str | None = None,
) -> dg.ScheduleDefinition:
    """Builds `<model>_monitor_schedule`: materializes the model's `champion_monitor`.

    Args:
        model: the spec; its `monitor.cron` says when.
        job: the model's monitor job.
        timezone: the cron's timezone.
        monitor_config: `MonitorConfig` overrides from the settings (unset fields: the spec's).
        cron: overrides `monitor.cron` (MLOPS_MONITOR_CRON).
    """
    names = ModelNames(model.name)
    return dg.ScheduleDefinition(
        name=names.monitor_schedule,
        job=job,
        cron_schedule=cron or model.monitor.cron,
        execution_timezone=timezone,
        run_config={
            "ops": {names.champion_monitor.to_python_identifier(): {"config": monitor_config}}
        },
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Evaluates {model.name}'s serving champion on the newest window; "
        f"{names.monitor_sensor} acts on the result.",
    )
