"""A verification model's training snapshot: the replicated face vectors as of the run's month,
split by identity (`ml.face_data.face_snapshot`)."""

import dataclasses

import dagster as dg
import pandas as pd

from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.assets.dataset import snapshot_key, training_data_asset
from mlops_assets.ml.face_data import FaceSnapshot, face_snapshot
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.object_store import ObjectStoreResource


def training_data(
    context: dg.AssetExecutionContext,
    data_store: DataStoreResource,
    object_store: ObjectStoreResource,
) -> dg.Output[FaceSnapshot]:
    """Registered face vectors as of the month: the newest month's held-out identities judge,
    the other identities train and calibrate."""
    store = data_store.get_client()
    month_end = pd.Timestamp(context.partition_time_window.end).tz_convert("UTC")
    high_water_mark = store.high_water_mark(FACE_RECORDS)
    frame = store.face_vectors(until=month_end.to_pydatetime(), up_to_seq=high_water_mark)
    snapshot = face_snapshot(frame, context.partition_key, month_end, pd.Timestamp.now(tz="UTC"))
    counts = snapshot.counts()
    context.log.info(
        f"face snapshot {snapshot.data_version} (store high-water mark {high_water_mark}): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    # Same version, same content: an existing object is kept.
    snapshot_uri = object_store.get_client().put_frame(
        snapshot_key(snapshot.data_version), frame, overwrite=False
    )
    snapshot = dataclasses.replace(snapshot, snapshot_uri=snapshot_uri)
    return dg.Output(
        snapshot,
        data_version=dg.DataVersion(snapshot.data_version),
        metadata={
            "data_version": snapshot.data_version,
            "snapshot": snapshot_uri,
            "high_water_mark": high_water_mark,
            **counts,
            "holdout_window": f"{snapshot.holdout_start.isoformat()} – "
            f"{snapshot.as_of.isoformat()}",
        },
    )


def face_snapshot_reference(snapshot: FaceSnapshot) -> dict:
    """What `graph/snapshot_handoff.py` stores of a face snapshot to rebuild it."""
    return {
        "month": snapshot.month,
        "data_version": snapshot.data_version,
        "as_of": snapshot.as_of.isoformat(),
        "snapshot_uri": snapshot.snapshot_uri,
    }


def face_snapshot_from(reference: dict, frame: pd.DataFrame) -> FaceSnapshot:
    """Rebuilds a face snapshot from its stored rows and reference: the identity split is a
    hash of each helper id, so the same rows split the same way."""
    as_of = pd.Timestamp(reference["as_of"])
    # `now` at the recorded as-of instant keeps that instant (`face_data.as_of_instant`).
    snapshot = face_snapshot(frame, reference["month"], as_of, as_of)
    return dataclasses.replace(snapshot, snapshot_uri=reference["snapshot_uri"])


def face_training_data_asset(model: ModelSpec, retry_policy: dg.RetryPolicy) -> dg.AssetsDefinition:
    """A verification model's `<model>/training_data` (`training_data` above) with its retries."""
    return training_data_asset(model, retry_policy, training_data)
