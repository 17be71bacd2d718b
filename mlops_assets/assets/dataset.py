"""The training snapshot: the data store as of this run, split in time."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd
from pydantic import Field

from mlops_assets.constants import RETRAINING_GROUP, TRAINING_DATA
from mlops_assets.ml.data import split_newest_window
from mlops_assets.resources.data_store import TrainingDataStore, content_hash
from mlops_assets.resources.object_store import ObjectStore


class TrainingDataConfig(dg.Config):
    holdout_days: int = Field(
        default=60,
        description="Width of the holdout window: records confirmed in the newest N days are "
        "scored, never trained on.",
    )


@dataclass(frozen=True)
class TrainingSnapshot:
    """What the downstream stages train and verify on."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    high_water_mark: int
    data_version: str
    holdout_start: pd.Timestamp
    snapshot_uri: str | None = None


def snapshot_key(data_version: str) -> str:
    """Object key of a snapshot: the data version names it, so a run can be reproduced."""
    return f"{TRAINING_DATA}/{data_version}.parquet"


def _class_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["label"].value_counts().sort_index().items()}


@dg.asset(
    key=TRAINING_DATA,
    group_name=RETRAINING_GROUP,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL),
    kinds={"pandas"},
)
def training_data(
    context: dg.AssetExecutionContext,
    config: TrainingDataConfig,
    data_store: TrainingDataStore,
    object_store: ObjectStore,
) -> dg.Output[TrainingSnapshot]:
    """Snapshot of confirmed task photos, split into train and the newest-window holdout."""
    high_water_mark = data_store.high_water_mark()
    frame = data_store.snapshot(up_to_seq=high_water_mark)
    split = split_newest_window(frame, config.holdout_days)
    data_version = f"hwm{high_water_mark}-{content_hash(frame)[:12]}"
    context.log.info(
        f"snapshot {data_version}: {len(split.train)} train rows, {len(split.holdout)} holdout "
        f"rows from {split.holdout_start:%Y-%m-%d}"
    )
    # Same version, same content: an existing object is kept.
    snapshot_uri = object_store.put_frame(snapshot_key(data_version), frame, overwrite=False)
    snapshot = TrainingSnapshot(
        split.train, split.holdout, high_water_mark, data_version, split.holdout_start, snapshot_uri
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
            "holdout_start": split.holdout_start.isoformat(),
            "train_rows_per_class": dg.MetadataValue.json(_class_counts(split.train)),
            "holdout_rows_per_class": dg.MetadataValue.json(_class_counts(split.holdout)),
        },
    )
