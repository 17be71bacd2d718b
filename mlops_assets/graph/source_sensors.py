"""Event source sensors, one per source queue: each tick replicates the source's events into its
store table, then requests the retraining job of every model the source feeds once enough new
records arrived beyond what that model's last snapshot read.

The task-photo source's sensor and the face source's sensor are both built here from their
`EventSource`; the logic lives in `retraining` (replication, triggers).
"""

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import dagster as dg

from mlops_assets.backends.record_tables import RecordTable
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames, events_sensor_name
from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.retraining.replication import (
    EVENT_SOURCES,
    TASK_EVENTS,
    EventSource,
    replicate,
)
from mlops_assets.retraining.triggers import decide_retrain, is_preview, parse_cursor

# What a sensor requests: a job (`dg.define_asset_job`'s, whose class Dagster does not export).
Target = Any


def source_table(model: ModelSpec) -> RecordTable:
    """The store table a model's snapshots read: its source's (a model fed by upstream models
    still trains on the task photos' labels)."""
    return EVENT_SOURCES.get(model.source.kind, TASK_EVENTS).table


def last_snapshot_high_water_mark(instance: dg.DagsterInstance, training_data: dg.AssetKey) -> int:
    """The store's high-water mark that the newest materialization of `training_data` used."""
    event = instance.get_latest_materialization_event(training_data)
    if event is None or event.asset_materialization is None:
        return 0
    value = event.asset_materialization.metadata.get("high_water_mark")
    return int(value.value) if value is not None else 0


def parse_source_cursor(cursor: str | None) -> dict[str, int]:
    """A source sensor's cursor: each model's table high-water mark at its last run request."""
    if not cursor or not cursor.startswith("{"):
        return {}
    return {name: parse_cursor(str(mark)) for name, mark in json.loads(cursor).items()}


def event_source_sensor_for(
    source: EventSource,
    models: Sequence[ModelSpec],
    jobs: Sequence[Target],
    *,
    min_new: int,
    max_messages: int,
    max_seconds: float,
    interval_s: int,
) -> dg.SensorDefinition:
    """Builds the sensor of one source queue, `<queue>_events_sensor`.

    Args:
        source: the events to replicate, their queue and the store table they land in.
        models: the models the source feeds (each model's `training_data` metadata
            `high_water_mark` says how far its last snapshot read the table).
        jobs: their retraining jobs, in the same order.
        min_new: new records beyond a model's mark (and the cursor) that request its run.
        max_messages: most events one tick replicates.
        max_seconds: most seconds one tick spends replicating.
        interval_s: seconds between ticks.
    """
    retrained = ", ".join(job.name for job in jobs)

    @dg.sensor(
        name=events_sensor_name(source.queue),
        jobs=list(jobs),
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Replicates {source.event.__name__}s from {source.queue} into the training "
        f"data store's {source.table.table.name} and requests {retrained} once {min_new} new "
        f"{source.records} arrived. Preview does not consume.",
    )
    def event_source_sensor(
        context: dg.SensorEvaluationContext,
        event_queue: EventQueueResource,
        data_store: DataStoreResource,
    ) -> dg.SensorResult:
        store = data_store.get_client()
        preview = is_preview(context.log_key, context.repository_name)
        if preview:
            context.log.info("preview: leaving the queue untouched, reading the store only")
        else:
            drained = replicate(
                event_queue.get_client(), store, max_messages, max_seconds, source=source
            )
            context.log.info(drained.summary())
        table = source.table
        cursor = parse_source_cursor(context.cursor)
        high_water_mark = store.high_water_mark(table)
        requests, skipped = [], []
        for model in models:
            names = ModelNames(model.name)
            baseline = max(
                last_snapshot_high_water_mark(context.instance, names.training_data),
                cursor.get(model.name, 0),
            )
            decision = decide_retrain(
                high_water_mark,
                baseline,
                store.count(baseline, table),
                min_new,
                source.name,
                source.records,
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
                    partition_key=existing_month_key(store.newest_at(table)),
                    tags={
                        "mlops/trigger": source.name.replace(" ", "_"),
                        "mlops/model": model.name,
                        "mlops/high_water_mark": str(decision.high_water_mark),
                        "mlops/new_records": str(decision.new_labels),
                    },
                )
            )
        if not requests:
            note = "preview, queue not drained: " if preview else ""
            return dg.SensorResult(skip_reason=dg.SkipReason(note + "; ".join(skipped)))
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))

    return event_source_sensor


def source_for(kind: str, queue: str) -> EventSource:
    """The replicated source of a `SourceSpec.kind`, read from the spec's `queue`."""
    return dataclasses.replace(EVENT_SOURCES[kind], queue=queue)
