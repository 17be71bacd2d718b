"""How `training_data` reaches the steps after it: as its object-store key, never as a pickle.

The snapshot's Parquet file is already in the object store (`snapshot_key(data_version)`); the
IO manager writes a small JSON reference next to it, and a step that reads `training_data` loads
the Parquet file and splits it at the recorded holdout start. On the stack a step on another
host reads a few hundred bytes of reference plus the snapshot from S3, instead of a pickle of
every row through the step-values store.
"""

import json

import dagster as dg
import pandas as pd

from mlops_assets.graph.assets.dataset import TrainingSnapshot, snapshot_key
from mlops_assets.graph.assets.face_dataset import face_snapshot_from, face_snapshot_reference
from mlops_assets.graph.step_values import check_same_setup
from mlops_assets.ml.face_data import FaceSnapshot
from mlops_assets.resources.object_store import ObjectStoreResource

# The reference's `kind` of a verification model's snapshot (a classification one has none).
FACE_KIND = "face_vectors"


def reference_key(asset_key: dg.AssetKey, partition_key: str) -> str:
    """Object key of a model's month's reference (`<model>/training_data/handoff/<month>.json`):
    the newest materialization of the partition wins, as with Dagster's own IO managers."""
    return f"{'/'.join(asset_key.path)}/handoff/{partition_key}.json"


class SnapshotHandoff(dg.ConfigurableIOManager):
    """Stores a `TrainingSnapshot` (or a verification model's `FaceSnapshot`) as a reference to
    its Parquet object; loads it back whole.

    `training_data` writes only through this IO manager, so this is where its step checks that
    the worker was started like the run (`step_values.check_same_setup`).
    """

    object_store: ObjectStoreResource
    step_values: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        check_same_setup(context.dagster_run, self.step_values)

    def handle_output(
        self, context: dg.OutputContext, obj: TrainingSnapshot | FaceSnapshot
    ) -> None:
        if isinstance(obj, FaceSnapshot):
            self._write(context, {"kind": FACE_KIND, **face_snapshot_reference(obj)})
            return
        reference = {
            "month": obj.month,
            "high_water_mark": obj.high_water_mark,
            "data_version": obj.data_version,
            "holdout_start": obj.holdout_start.isoformat(),
            "as_of": obj.as_of.isoformat(),
            "snapshot_uri": obj.snapshot_uri,
        }
        self._write(context, reference)

    def _write(self, context: dg.OutputContext, reference: dict) -> None:
        data = json.dumps(reference, sort_keys=True).encode()
        key = reference_key(context.asset_key, context.asset_partition_key)
        self.object_store.get_client().put_bytes(key, data)
        context.add_output_metadata({"handoff_bytes": len(data)})

    def load_input(self, context: dg.InputContext) -> TrainingSnapshot | FaceSnapshot:
        store = self.object_store.get_client()
        key = reference_key(context.asset_key, context.asset_partition_key)
        reference = json.loads(store.get_bytes(key))
        frame = store.get_frame(snapshot_key(reference["data_version"]))
        if reference.get("kind") == FACE_KIND:
            return face_snapshot_from(reference, frame)
        holdout_start = pd.Timestamp(reference["holdout_start"])
        newest = frame["confirmed_at"] >= holdout_start
        return TrainingSnapshot(
            month=reference["month"],
            train=frame.loc[~newest].reset_index(drop=True),
            holdout=frame.loc[newest].reset_index(drop=True),
            high_water_mark=reference["high_water_mark"],
            data_version=reference["data_version"],
            holdout_start=holdout_start,
            as_of=pd.Timestamp(reference["as_of"]),
            snapshot_uri=reference["snapshot_uri"],
        )
