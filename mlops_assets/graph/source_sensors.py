"""Event source sensors, one per source: each tick replicates the source's events into its store
table, then requests retraining of the models it feeds once enough new records arrived.

`task_events_sensor` (task photos, in `graph.sensors`) and the face source's sensor are built
here from their `EventSource`; the logic lives in `retraining` (replication, triggers).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from mlops_assets.graph.partitions import existing_month_key
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.retraining.replication import FACE_EVENTS, EventSource, replicate
from mlops_assets.retraining.triggers import decide_retrain, is_preview, parse_cursor

# What a sensor requests, as `dg.sensor`'s `target` takes it: a job (`dg.define_asset_job`'s,
# whose class Dagster does not export) or the assets to materialize (`dg.AssetSelection`).
Target = Any


def last_snapshot_high_water_mark(instance: dg.DagsterInstance, training_data: dg.AssetKey) -> int:
    """The store's high-water mark that the newest materialization of `training_data` used."""
    event = instance.get_latest_materialization_event(training_data)
    if event is None or event.asset_materialization is None:
        return 0
    value = event.asset_materialization.metadata.get("high_water_mark")
    return int(value.value) if value is not None else 0


def event_source_sensor_for(
    source: EventSource,
    *,
    name: str,
    target: Target,
    training_data: dg.AssetKey,
    min_new: int,
    max_messages: int,
    max_seconds: float,
    interval_s: int,
    partition_key_for: Callable[[datetime], str] | None = existing_month_key,
) -> dg.SensorDefinition:
    """Builds the sensor of one event source.

    Args:
        source: the events to replicate and the store table they land in.
        name: the sensor's name.
        target: what a run request runs (the job, or the assets, of the models it feeds).
        training_data: the asset whose newest materialization's `high_water_mark` metadata says
            how far the last training snapshot read the source's table.
        min_new: new records beyond that mark (and the cursor) that request a run.
        max_messages: most events one tick replicates.
        max_seconds: most seconds one tick spends replicating.
        interval_s: seconds between ticks.
        partition_key_for: the partition a run asks for, from the newest record's time
            (default the month containing it); None for an unpartitioned target.
    """

    @dg.sensor(
        name=name,
        target=target,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Replicates {source.event.__name__}s into the training data store's "
        f"{source.table.table.name} and requests a run once {min_new} new {source.records} "
        "arrived. Preview does not consume.",
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
        baseline = max(
            last_snapshot_high_water_mark(context.instance, training_data),
            parse_cursor(context.cursor),
        )
        decision = decide_retrain(
            store.high_water_mark(table),
            baseline,
            store.count(baseline, table),
            min_new,
            source.name,
            source.records,
        )
        if not decision.retrain:
            note = "preview, queue not drained: " if preview else ""
            return dg.SensorResult(skip_reason=dg.SkipReason(note + decision.skip_reason()))
        newest = store.newest_at(table)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=decision.run_key,
                    # The newest month's as-of partition trains on everything older.
                    partition_key=(
                        partition_key_for(newest)
                        if partition_key_for is not None and newest is not None
                        else None
                    ),
                    tags={
                        "mlops/trigger": source.name.replace(" ", "_"),
                        "mlops/high_water_mark": str(decision.high_water_mark),
                        "mlops/new_records": str(decision.new_labels),
                    },
                )
            ],
            cursor=str(decision.high_water_mark),
        )

    return event_source_sensor


def face_events_sensor_for(
    target: Target,
    training_data: dg.AssetKey,
    min_new_vectors: int,
    max_messages: int,
    max_seconds: float,
    interval_s: int,
    name: str = "face_events_sensor",
    partition_key_for: Callable[[datetime], str] | None = existing_month_key,
) -> dg.SensorDefinition:
    """Builds the face source's sensor: replicates `FaceVectorRegisteredEvent`s (queue
    `face.registered`) into `face_vectors`, then requests `target` (the job or assets of the
    models whose `source.kind` is `face_vectors`) once `min_new_vectors` new vectors arrived
    beyond what `training_data`'s newest materialization read."""
    return event_source_sensor_for(
        FACE_EVENTS,
        name=name,
        target=target,
        training_data=training_data,
        min_new=min_new_vectors,
        max_messages=max_messages,
        max_seconds=max_seconds,
        interval_s=interval_s,
        partition_key_for=partition_key_for,
    )
