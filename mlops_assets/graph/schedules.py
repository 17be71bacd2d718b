"""Schedules of one model: retrain on its cadence, whatever the event traffic was; evaluate its
champion on its monitor cron."""

import dagster as dg

from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.graph.source_sensors import source_table
from mlops_assets.resources.data_store import DataStoreResource


def retrain_schedule_for(
    model: ModelSpec, job: "dg.UnresolvedAssetJobDefinition", timezone: str
) -> dg.ScheduleDefinition:
    """Builds `<model>_retrain_schedule` on the spec's `cadence` in `timezone`.

    Each tick retrains the month of the source's newest record (its as-of partition).
    """
    table = source_table(model)

    @dg.schedule(
        name=ModelNames(model.name).retrain_schedule,
        job=job,
        cron_schedule=model.cadence,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Retrains {model.name} on its cadence ({model.cadence}) regardless of new "
        "labels.",
    )
    def retrain_schedule(
        context: dg.ScheduleEvaluationContext, data_store: DataStoreResource
    ) -> dg.RunRequest | dg.SkipReason:
        newest = data_store.get_client().newest_at(table)
        if newest is None:
            return dg.SkipReason(
                f"the training data store's {table.table.name} is empty: nothing to train on"
            )
        tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
        month = existing_month_key(newest, context.scheduled_execution_time)
        return dg.RunRequest(run_key=f"{model.name}-cadence-{tick}", partition_key=month)

    return retrain_schedule


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
