"""The training snapshot: the data store as of this run's month, split in time."""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset

from mlops_assets.backends import logged_model
from mlops_assets.backends.data_store import content_hash
from mlops_assets.constants import TRAINING_DATA
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.ml.data import split_as_of
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.object_store import ObjectStoreResource


@dataclass(frozen=True)
class TrainingSnapshot:
    """What the downstream stages train and verify on."""

    month: str
    train: pd.DataFrame
    holdout: pd.DataFrame
    high_water_mark: int
    data_version: str
    holdout_start: pd.Timestamp
    as_of: pd.Timestamp
    snapshot_uri: str | None = None


def snapshot_datasets(snapshot: TrainingSnapshot) -> tuple[PandasDataset, PandasDataset]:
    """The snapshot's training split and holdout as MLflow datasets (named by data version)."""
    return (
        logged_model.snapshot_dataset(
            snapshot.train, f"train-{snapshot.data_version}", snapshot.snapshot_uri
        ),
        logged_model.snapshot_dataset(
            snapshot.holdout, f"holdout-{snapshot.data_version}", snapshot.snapshot_uri
        ),
    )


def snapshot_key(data_version: str) -> str:
    """Object key of a snapshot: the data version names it, so a run can be reproduced."""
    return f"{TRAINING_DATA}/{data_version}.parquet"


def _class_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["label"].value_counts().sort_index().items()}


def training_data(
    context: dg.AssetExecutionContext,
    data_store: DataStoreResource,
    object_store: ObjectStoreResource,
) -> dg.Output[TrainingSnapshot]:
    """Confirmed task photos as of the month: train on older months, hold out the newest."""
    store = data_store.get_client()
    month_end = pd.Timestamp(context.partition_time_window.end).tz_convert("UTC")
    high_water_mark = store.high_water_mark()
    frame = store.snapshot(up_to_seq=high_water_mark, until=month_end.to_pydatetime())
    split = split_as_of(frame, month_end, now=pd.Timestamp.now(tz="UTC"))
    data_version = f"{context.partition_key}-{content_hash(frame)[:12]}"
    context.log.info(
        f"snapshot {data_version} (store high-water mark {high_water_mark}): "
        f"{len(split.train)} train rows, {len(split.holdout)} holdout rows "
        f"[{split.holdout_start:%Y-%m-%d %H:%M}, {split.as_of:%Y-%m-%d %H:%M})"
    )
    # Same version, same content: an existing object is kept.
    snapshot_uri = object_store.get_client().put_frame(
        snapshot_key(data_version), frame, overwrite=False
    )
    snapshot = TrainingSnapshot(
        context.partition_key,
        split.train,
        split.holdout,
        high_water_mark,
        data_version,
        split.holdout_start,
        split.as_of,
        snapshot_uri,
    )
    return dg.Output(
        snapshot,
        data_version=dg.DataVersion(data_version),
        metadata={
            "data_version": data_version,
            "snapshot": snapshot_uri,
            "high_water_mark": high_water_mark,
            "train_rows": len(split.train),
            "holdout_rows": len(split.holdout),
            "holdout_window": f"{split.holdout_start.isoformat()} – {split.as_of.isoformat()}",
            "train_rows_per_class": dg.MetadataValue.json(_class_counts(split.train)),
            "holdout_rows_per_class": dg.MetadataValue.json(_class_counts(split.holdout)),
        },
    )


# The IO manager that hands the snapshot on by its object-store key (`graph/snapshot_handoff.py`).
SNAPSHOT_IO_MANAGER = "snapshot_io_manager"


def training_data_asset(
    model: ModelSpec,
    retry_policy: dg.RetryPolicy,
    snapshot: Callable[..., dg.Output] = training_data,
) -> dg.AssetsDefinition:
    """`<model>/training_data` with a retry policy (`definitions.py` passes the configured one).

    Args:
        model: the model's spec.
        retry_policy: the step's retries.
        snapshot: the asset's body for the model's task (default the task photos'; a
            verification model's is `face_dataset.training_data`).
    """
    return dg.asset(
        key=ModelNames(model.name).training_data,
        group_name=model.name,
        partitions_def=monthly_partitions,
        retry_policy=retry_policy,
        kinds={"pandas"},
        io_manager_key=SNAPSHOT_IO_MANAGER,
    )(snapshot)
