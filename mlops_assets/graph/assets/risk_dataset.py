"""The confirmation-risk model's training data: the synthetic confirmations as of the run's
month, turned into features by the upstream models' champions.

The asset depends on each upstream's `<upstream>/champion_model` of the same month, so the
lineage shows the cross-group edges, and it records the champion versions it read as
`upstream_<name>_version` (what the automation compares with each upstream's
`champion_version`).
"""

import hashlib

import dagster as dg
import pandas as pd

from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames, upstream_version_key
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.ml.data import split_as_of
from mlops_assets.ml.risk_data import (
    RISK_FEATURES,
    SYNTHETIC_NOTE,
    RiskSnapshot,
    synthetic_confirmations,
)
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.upstream_features import (
    MissingUpstreamChampion,
    confirmation_features,
    require_champions,
    upstream_champions,
    versions,
)


def features_version(month: str, features: pd.DataFrame, upstream: dict[str, str]) -> str:
    """The data version: the month, then a hash of the feature rows and upstream versions."""
    digest = hashlib.sha256(repr(sorted(upstream.items())).encode())
    digest.update(pd.util.hash_pandas_object(features[list(RISK_FEATURES)], index=False).values)
    digest.update(features["task_id"].astype(str).str.cat(sep=",").encode())
    return f"{month}-{digest.hexdigest()[:12]}"


def build_risk_snapshot(
    context: dg.AssetExecutionContext,
    model: ModelSpec,
    upstream: list[ModelSpec],
    data_store: DataStoreResource,
    model_registry: RegistryResource,
) -> dg.Output[RiskSnapshot]:
    """Reads the upstream champions and the store as of the month, and makes the features.

    Raises:
        dagster.Failure: an upstream has no champion, or the store has too few faces to join
            (no retry: the same state fails the same way).
    """
    champions = upstream_champions(upstream, model_registry.get_client)
    used = versions(champions)
    recorded = {upstream_version_key(name): version for name, version in used.items()}
    try:
        require_champions(champions, model.name)
    except MissingUpstreamChampion as error:
        raise dg.Failure(str(error), metadata=recorded, allow_retries=False) from error
    store = data_store.get_client()
    month_end = pd.Timestamp(context.partition_time_window.end).tz_convert("UTC")
    tasks = store.snapshot(until=month_end.to_pydatetime())
    faces = store.face_vectors(until=month_end.to_pydatetime())
    try:
        confirmations = synthetic_confirmations(tasks, faces)
    except ValueError as error:
        raise dg.Failure(f"cannot join tasks and faces: {error}", allow_retries=False) from error
    features = confirmation_features(confirmations, champions)
    split = split_as_of(features, month_end, now=pd.Timestamp.now(tz="UTC"))
    snapshot = RiskSnapshot(
        context.partition_key,
        split.train,
        split.holdout,
        features_version(context.partition_key, features, used),
        split.holdout_start,
        split.as_of,
        used,
    )
    context.log.info(
        f"risk snapshot {snapshot.data_version} from upstream champions "
        + ", ".join(f"{name} v{version}" for name, version in used.items())
        + ": "
        + ", ".join(f"{k} {v}" for k, v in snapshot.counts().items())
    )
    return dg.Output(
        snapshot,
        data_version=dg.DataVersion(snapshot.data_version),
        metadata={
            **recorded,
            "data_version": snapshot.data_version,
            **snapshot.counts(),
            "holdout_window": f"{split.holdout_start.isoformat()} – {split.as_of.isoformat()}",
            "labels": SYNTHETIC_NOTE,
        },
    )


def risk_training_data_asset(
    model: ModelSpec, upstream: list[ModelSpec], retry_policy: dg.RetryPolicy
) -> dg.AssetsDefinition:
    """`<model>/training_data` of an upstream_models model: depends on each upstream's
    `champion_model` (same month) and reads their champions.

    Args:
        model: the downstream model's spec.
        upstream: the specs of the models `model.upstream` names, in that order.
        retry_policy: the step's retries.
    """

    @dg.asset(
        key=ModelNames(model.name).training_data,
        deps=[
            dg.AssetDep(
                ModelNames(spec.name).champion_model,
                partition_mapping=dg.IdentityPartitionMapping(),
            )
            for spec in upstream
        ],
        group_name=model.name,
        partitions_def=monthly_partitions,
        retry_policy=retry_policy,
        kinds={"pandas"},
    )
    def training_data(
        context: dg.AssetExecutionContext,
        data_store: DataStoreResource,
        model_registry: RegistryResource,
    ) -> dg.Output[RiskSnapshot]:
        """Synthetic task confirmations as of the month (a hash of each task id picks its face
        pair and whether its label is wrong), as features made by the upstream champions:
        train on older months, hold out the newest."""
        return build_risk_snapshot(context, model, upstream, data_store, model_registry)

    return training_data
