"""The face verifier's challenger: trained by the built-in `face_projection` in-process or by a
trainer process through Dagster Pipes (the photo model's trainer path), logged to MLflow as a
pyfunc and registered with its hash and signature.

`train_face_challenger` is the body of a verification model's `trained_model` asset; the
fleet's factory binds its resources and the model's spec.
"""

import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np

from mlops_assets.backends import face_logged_model, logged_model
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.trainer import DATA_FILE_NAME, TrainerOutputError
from mlops_assets.graph.trainer_runs import (
    EpochReporter,
    TrainerConfig,
    invoke_trainer,
    register_challenger,
    trainer_receipts,
)
from mlops_assets.ml.face_data import FaceSnapshot, face_arrays
from mlops_assets.ml.face_training import (
    SMOKE_TEST_ROWS,
    TOTAL_STEPS,
    FaceTrainResult,
    FaceTrainSettings,
    check_verifier_file,
    find_verifier_file,
    train_face_projection,
    write_face_training_data,
)
from mlops_assets.resources.trainer import TrainerResource


class FaceTrainingConfig(TrainerConfig, FaceTrainSettings):
    """The launchpad config of a verification model's `trained_model`: the hyperparameters
    (`FaceTrainSettings`) and the trainer (`TrainerConfig`; empty: the spec's trainer)."""


@dataclass(frozen=True)
class FaceTrainingArrays:
    """The snapshot's training and validation rows as one stack, with the validation mask."""

    vectors: np.ndarray
    identities: np.ndarray
    validation: np.ndarray

    @classmethod
    def from_snapshot(cls, snapshot: FaceSnapshot) -> "FaceTrainingArrays":
        train_vectors, train_ids = face_arrays(snapshot.train)
        val_vectors, val_ids = face_arrays(snapshot.validation)
        if len(train_vectors) == 0 or len(val_vectors) == 0:
            raise dg.Failure(
                f"snapshot {snapshot.data_version} has {len(train_vectors)} training and "
                f"{len(val_vectors)} validation face vectors: both are needed to train",
                allow_retries=False,
            )
        return cls(
            np.concatenate([train_vectors, val_vectors]),
            np.concatenate([train_ids, val_ids]),
            np.r_[np.zeros(len(train_ids), bool), np.ones(len(val_ids), bool)],
        )


def trainer_command(
    config: FaceTrainingConfig, spec: ModelSpec, trainer: TrainerResource
) -> list[str]:
    """The trainer process to run: the launchpad's named trainer, else the spec's own command;
    [] is the built-in `face_projection` in-process."""
    if config.trainer:
        return trainer.command_for(config.trainer)
    return shlex.split(spec.trainer.command) if spec.trainer.command else []


def run_face_trainer(
    context: dg.AssetExecutionContext,
    command: list[str],
    config: FaceTrainingConfig,
    arrays: FaceTrainingArrays,
    spec: ModelSpec,
    trainer: TrainerResource,
    registry: RegistryClient,
    reporter: EpochReporter,
) -> tuple[FaceTrainResult, dict]:
    """Runs a verification trainer process on the face data file and checks its verifier.

    Returns:
        The verifier in the built-in path's terms, and the trainer's receipts (metadata).

    Raises:
        dagster.Failure: the trainer failed, or left no usable verifier (nothing registered).
    """
    settings = FaceTrainSettings(**config.model_dump(include=set(FaceTrainSettings.model_fields)))
    with tempfile.TemporaryDirectory(prefix="face-trainer-") as workdir:
        output_dir = Path(workdir) / "output"
        output_dir.mkdir()
        data_file = write_face_training_data(
            Path(workdir) / DATA_FILE_NAME,
            arrays.vectors,
            arrays.identities,
            arrays.validation,
            spec.target_far,
        )
        invocation = invoke_trainer(
            context,
            command,
            config,
            [
                *("--train-data", str(data_file), "--output-dir", str(output_dir)),
                *("--epochs", str(TOTAL_STEPS), "--seed", str(settings.seed)),
            ],
            {
                "hyperparameters": settings.model_dump(),
                "month": context.partition_key if context.has_partition_key else None,
                "target_far": spec.target_far,
            },
            config.trainer_timeout_s or spec.trainer.timeout_s,
            trainer,
            registry,
            reporter,
        )
        try:
            produced = check_verifier_file(
                find_verifier_file(output_dir),
                arrays.vectors[:SMOKE_TEST_ROWS],
                spec.target_far,
            )
        except TrainerOutputError as error:
            # The same files would fail the same way: no retry.
            raise dg.Failure(
                f"the trainer's verifier is not usable: {error}", allow_retries=False
            ) from error
    last = invocation.last_progress
    result = FaceTrainResult(
        produced.verifier,
        invocation.seconds,
        last.epoch if last else 0,
        last.metrics if last else {},
    )
    return result, trainer_receipts(command, invocation, produced.sha256, registry)


def train_face_challenger(
    context: dg.AssetExecutionContext,
    config: FaceTrainingConfig,
    training_data: FaceSnapshot,
    registry: RegistryClient,
    trainer: TrainerResource,
    spec: ModelSpec,
) -> dg.Output[RegisteredModel]:
    """Face verifier challenger, registered in MLflow with the alias `challenger`.

    Inside the MLflow run dagster-mlflow started: logs the snapshot's datasets, the
    hyperparameters, the counts and the validation metrics, then the verifier as a pyfunc.
    """
    arrays = FaceTrainingArrays.from_snapshot(training_data)
    logged_model.log_datasets(
        face_logged_model.face_dataset(
            training_data.train, f"train-{training_data.data_version}", training_data.snapshot_uri
        ),
        face_logged_model.face_dataset(
            training_data.holdout,
            f"holdout-{training_data.data_version}",
            training_data.snapshot_uri,
        ),
    )
    mlflow.log_params(config.model_dump(exclude={"trainer_args"}))
    mlflow.log_params(
        {
            "month": training_data.month,
            "data_version": training_data.data_version,
            "data_snapshot": training_data.snapshot_uri,
            "target_far": spec.target_far,
            **training_data.counts(),
        }
    )
    reporter = EpochReporter(context, asset_key=context.asset_key)
    command = trainer_command(config, spec, trainer)
    if command:
        result, receipts = run_face_trainer(
            context, command, config, arrays, spec, trainer, registry, reporter
        )
    else:
        settings = FaceTrainSettings(
            **config.model_dump(include=set(FaceTrainSettings.model_fields))
        )
        result = train_face_projection(
            arrays.vectors,
            arrays.identities,
            arrays.validation,
            spec.target_far,
            settings,
            on_step=reporter.on_epoch(TOTAL_STEPS),
        )
        receipts = {}
    run_id = mlflow.active_run().info.run_id
    registered, sha256 = register_challenger(
        context,
        registry,
        training_data.month,
        lambda: face_logged_model.log_face_verifier(result.verifier, arrays.vectors),
    )
    return dg.Output(
        registered,
        metadata={
            "mlflow_run": dg.MetadataValue.url(registry.run_url(run_id)),
            "model_version": registered.version,
            "training_seconds": round(result.seconds, 2),
            "components": int(result.verifier.projection.shape[1]),
            "threshold": result.verifier.threshold,
            "val_tar_at_far": result.metrics.get("val_tar_at_far"),
            "artifact_sha256": sha256,
            **receipts,
        },
    )
