"""The challenger: a CNN trained on the snapshot, logged to MLflow and registered."""

import dagster as dg
import numpy as np
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG
from dagster_mlflow.resources import MlFlow
from pydantic import Field

from mlops_assets.backends import logged_model
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.constants import TRAINING_DATA, TRAINING_QUEUE
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.assets.dataset import TrainingSnapshot, snapshot_datasets
from mlops_assets.graph.face_training import FaceTrainingConfig, train_face_challenger
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.graph.trainer_runs import (
    EpochReporter,
    TrainerConfig,
    register_challenger,
    run_trainer,
)
from mlops_assets.ml.data import to_arrays
from mlops_assets.ml.face_data import FaceSnapshot
from mlops_assets.ml.model import TrainSettings, train
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.resources.trainer import TrainerResource


class TrainingConfig(TrainerConfig, TrainSettings):
    """The launchpad config of `trained_model`: the hyperparameters (`TrainSettings`), the
    trainer (`TrainerConfig`) and one switch for demonstrating the gates."""

    shuffle_labels: bool = Field(
        default=False,
        description="Train on randomly permuted labels: a deliberately broken challenger "
        "for demonstrating the gates.",
    )


def train_challenger(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    training_data: TrainingSnapshot,
    registry: RegistryClient,
    mlflow: MlFlow,
    trainer: TrainerResource,
) -> dg.Output[RegisteredModel]:
    """Trains, logs and registers the challenger in `registry` (alias `challenger`)."""
    settings = TrainSettings(**config.model_dump(include=set(TrainSettings.model_fields)))
    x, y = to_arrays(training_data.train)
    if config.shuffle_labels:
        y = np.random.default_rng(settings.seed).permutation(y)
    logged_model.log_datasets(*snapshot_datasets(training_data))
    mlflow.log_params(config.model_dump())
    mlflow.log_params(
        {
            "month": training_data.month,
            "data_version": training_data.data_version,
            "data_snapshot": training_data.snapshot_uri,
            "train_rows": len(y),
        }
    )

    command = trainer.command_for(config.trainer)
    if command:
        outcome = run_trainer(context, command, config, settings, (x, y), trainer, registry)
        result, trainer_metadata = outcome.result, outcome.metadata
    else:
        result = train(x, y, settings, on_epoch=EpochReporter(context).on_epoch(settings.epochs))
        trainer_metadata = {}
    run_id = mlflow.active_run().info.run_id

    def log_model() -> tuple[str, str]:
        info, sha256 = logged_model.log_keras_model(result.model, x)
        return info.model_uri, sha256

    registered, sha256 = register_challenger(context, registry, training_data.month, log_model)
    return dg.Output(
        registered,
        metadata={
            "mlflow_run": dg.MetadataValue.url(registry.run_url(run_id)),
            "model_version": registered.version,
            "epochs": result.epochs_run,
            "training_seconds": round(result.seconds, 2),
            "parameters": result.model.count_params(),
            "final_val_accuracy": result.history.get("val_accuracy", [None])[-1],
            "artifact_sha256": sha256,
            **trainer_metadata,
        },
    )


def _trained_model_options(
    model: ModelSpec, retry_policy: dg.RetryPolicy, queue: str, kinds: set[str]
) -> dict:
    # What every task's `<model>/trained_model` shares: its key and input, group, partitions,
    # retries and the Celery queue of its step (a GPU worker serves it; the in-process executor
    # ignores the route).
    names = ModelNames(model.name)
    return {
        "key": names.trained_model,
        "ins": {TRAINING_DATA: dg.AssetIn(names.training_data)},
        "group_name": model.name,
        "partitions_def": monthly_partitions,
        "retry_policy": retry_policy,
        "kinds": kinds,
        "op_tags": {DAGSTER_CELERY_QUEUE_TAG: queue},
    }


def trained_model_asset(
    model: ModelSpec, retry_policy: dg.RetryPolicy, queue: str = TRAINING_QUEUE
) -> dg.AssetsDefinition:
    """`<model>/trained_model` of a classification model with a retry policy
    (`definitions.py` passes the configured one) and its step routed to the Celery queue
    `queue`. It registers in the model's own `registry_name`."""

    @dg.asset(**_trained_model_options(model, retry_policy, queue, {"tensorflow", "mlflow"}))
    def trained_model(
        context: dg.AssetExecutionContext,
        config: TrainingConfig,
        training_data: TrainingSnapshot,
        model_registry: RegistryResource,
        mlflow: dg.ResourceParam[MlFlow],
        trainer: TrainerResource,
    ) -> dg.Output[RegisteredModel]:
        """Challenger model version, registered in MLflow with the alias `challenger`."""
        registry = model_registry.get_client(model.registry_name)
        return train_challenger(context, config, training_data, registry, mlflow, trainer)

    return trained_model


def face_trained_model_asset(
    model: ModelSpec, retry_policy: dg.RetryPolicy, queue: str = TRAINING_QUEUE
) -> dg.AssetsDefinition:
    """`<model>/trained_model` of a verification model: the spec's trainer (the built-in
    `face_projection` or an own command through Pipes) on the face snapshot, registered in the
    model's `registry_name`."""

    @dg.asset(**_trained_model_options(model, retry_policy, queue, {"scikit-learn", "mlflow"}))
    def trained_model(
        context: dg.AssetExecutionContext,
        config: FaceTrainingConfig,
        training_data: FaceSnapshot,
        model_registry: RegistryResource,
        # Requested so dagster-mlflow opens the run the challenger is logged in.
        mlflow: dg.ResourceParam[MlFlow],
        trainer: TrainerResource,
    ) -> dg.Output[RegisteredModel]:
        """Face verifier challenger, registered in MLflow with the alias `challenger`."""
        registry = model_registry.get_client(model.registry_name)
        return train_face_challenger(context, config, training_data, registry, trainer, model)

    return trained_model
