"""`trained_model`'s two ways to train, behind one progress report: the built-in CNN in-process,
or an own trainer process through Dagster Pipes (`TrainerPipesClient`).

Every epoch of either reaches the run log (percent, metric, ETA), MLflow (the epoch's metrics)
and the event log as an observation of `trained_model`, which `mlops-assets runs` reads.
"""

import shlex
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from pydantic import Field

from mlops_assets.backends import logged_model
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.backends.storage_errors import storage_errors_explained
from mlops_assets.constants import TRAINED_MODEL
from mlops_assets.contracts.trainer import (
    DATA_FILE_NAME,
    EtaClock,
    Progress,
    TrainerOutputError,
    progress_record,
)
from mlops_assets.ml.model import TrainResult, TrainSettings
from mlops_assets.ml.trainer_files import (
    check_model_file,
    find_model_file,
    write_training_data,
)
from mlops_assets.resources.trainer import TrainerResource
from mlops_assets.resources.trainer_process import TrainerInvocation

# Inputs the produced model is smoke-tested on before it is registered.
SMOKE_TEST_ROWS = 32


class ArgumentType(Enum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"


class TrainerArgument(dg.Config):
    """One extra command-line argument for an own trainer (the run manager's `extraFields`)."""

    name: str = Field(
        description="Flag name without dashes; underscores become dashes (hidden_units → "
        "--hidden-units)."
    )
    value: str = Field(description="The value as text, checked against `kind` before the start.")
    kind: ArgumentType = Field(
        default=ArgumentType.STR,
        description="str, int, float or bool; a true bool passes the bare flag, false nothing.",
    )


class TrainerConfig(dg.Config):
    """Launchpad fields choosing the trainer of one run."""

    trainer: str = Field(
        default="",
        description="Name of a trainer this deployment configures (MLOPS_TRAINERS) to run "
        "through Dagster Pipes, or 'built-in' for the CNN in-process; it gets --train-data, "
        "--output-dir, --epochs, --seed and the trainer_args. Empty: MLOPS_TRAINER_COMMAND, or "
        "the built-in CNN when that is empty too.",
    )
    trainer_args: list[TrainerArgument] = Field(
        default=[], description="Typed extra arguments passed to the trainer after the contract's."
    )
    trainer_timeout_s: float | None = Field(
        default=None,
        description="Seconds the trainer may run before its process group is killed; default "
        "the trainer resource's (MLOPS_TRAINER_TIMEOUT_S).",
    )


def argument_flags(arguments: list[TrainerArgument]) -> list[str]:
    """Turns typed arguments into flags, refusing a value that does not fit its type."""
    flags: list[str] = []
    for argument in arguments:
        flag = "--" + argument.name.strip().lstrip("-").replace("_", "-")
        text = argument.value.strip()
        try:
            if argument.kind is ArgumentType.BOOL:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                if text.lower() in ("true", "1", "yes"):
                    flags.append(flag)
                continue
            if argument.kind is ArgumentType.INT:
                text = str(int(text))
            elif argument.kind is ArgumentType.FLOAT:
                text = repr(float(text))
        except ValueError:
            raise dg.Failure(
                f"trainer argument {argument.name}={argument.value!r} is not a "
                f"{argument.kind.value}; fix it in the launchpad's trainer_args"
            ) from None
        flags += [flag, text]
    return flags


@dataclass
class EpochReporter:
    """Reports each epoch to the run log, MLflow and the event log; keeps the history."""

    context: dg.AssetExecutionContext
    started: float = field(default_factory=time.monotonic)
    history: dict[str, list[float]] = field(default_factory=dict)
    # The asset the observations are about (a fleet model's own `trained_model`).
    asset_key: str | dg.AssetKey = TRAINED_MODEL

    def __post_init__(self) -> None:
        self.clock = EtaClock(self.started)

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        record = progress_record(progress, now - self.started, self.clock.eta_s(progress, now))
        for name, value in progress.metrics.items():
            self.history.setdefault(name, []).append(value)
        if progress.metrics:
            mlflow.log_metrics(progress.metrics, step=progress.epoch)
        shown = ", ".join(f"{k}={v:.4f}" for k, v in progress.metrics.items())
        where = f"epoch {progress.epoch}/{progress.total_epochs or '?'}"
        if "percent" in record:
            where += f" ({record['percent']:.0f}%)"
        eta = f" · ETA {record['eta_s']:.0f} s" if "eta_s" in record else ""
        self.context.log.info(f"{where}: {shown}{eta}")
        self.context.log_event(
            dg.AssetObservation(
                asset_key=self.asset_key,
                partition=self.context.partition_key if self.context.has_partition_key else None,
                metadata=record,
            )
        )

    def on_epoch(self, total_epochs: int):
        """The in-process trainer's callback (epoch number, metrics)."""
        return lambda epoch, metrics: self(Progress(epoch, total_epochs, metrics))


@dataclass(frozen=True)
class TrainerOutcome:
    """What an own trainer produced, in the built-in path's terms, plus its receipts."""

    result: TrainResult
    metadata: dict


def run_trainer(
    context: dg.AssetExecutionContext,
    command: list[str],
    config: TrainerConfig,
    settings: TrainSettings,
    data: tuple[np.ndarray, np.ndarray],
    trainer: TrainerResource,
    registry: RegistryClient,
) -> TrainerOutcome:
    """Runs an own trainer on the training split and checks the model it leaves.

    Raises:
        dagster.Failure: the trainer failed, or left no usable model (the champion is untouched:
            nothing was registered).
    """
    x, y = data
    reporter = EpochReporter(context)
    with tempfile.TemporaryDirectory(prefix="trainer-") as workdir:
        output_dir = Path(workdir) / "output"
        output_dir.mkdir()
        data_file = write_training_data(Path(workdir) / DATA_FILE_NAME, x, y)
        invocation = invoke_trainer(
            context,
            command,
            config,
            [
                *("--train-data", str(data_file), "--output-dir", str(output_dir)),
                *("--epochs", str(settings.epochs), "--seed", str(settings.seed)),
            ],
            {"hyperparameters": settings.model_dump(), "month": context.partition_key},
            config.trainer_timeout_s or trainer.timeout_s,
            trainer,
            registry,
            reporter,
        )
        trainer_run_id = invocation.run_meta.get("mlflow_run_id")
        try:
            if trainer_run_id and not any(output_dir.rglob("*.keras")):
                model_file = registry.download_run_model(trainer_run_id, Path(workdir) / "mlflow")
            else:
                model_file = find_model_file(output_dir)
            produced = check_model_file(model_file, x[:SMOKE_TEST_ROWS])
        except (TrainerOutputError, FileNotFoundError, MlflowException) as error:
            # The same files would fail the same way: no retry.
            raise dg.Failure(
                f"the trainer's model is not usable: {error}", allow_retries=False
            ) from error
    context.log.info(f"the trainer's {model_file.name} loads and answers; sha256 {produced.sha256}")
    last = invocation.last_progress
    result = TrainResult(
        model=produced.model,
        epochs_run=last.epoch if last else 0,
        seconds=invocation.seconds,
        history=reporter.history,
    )
    return TrainerOutcome(result, trainer_receipts(command, invocation, produced.sha256, registry))


def register_challenger(
    context: dg.AssetExecutionContext,
    registry: RegistryClient,
    month: str,
    log_model: Callable[[], tuple[str, str]],
) -> tuple[RegisteredModel, str]:
    """Logs a trained model in the active MLflow run, registers it as `@challenger` and names
    the run after the month and the version.

    Args:
        context: the training asset's context (the log line goes there).
        registry: the model's registry.
        month: the partition key.
        log_model: logs the model; returns its URI and the sha256 of its file.

    Returns:
        The new version and its sha256.
    """
    run_id = mlflow.active_run().info.run_id
    started = time.perf_counter()
    with storage_errors_explained(
        "storing the model in MLflow's artifact store",
        endpoint_variable="MLFLOW_S3_ENDPOINT_URL",
        location_variable="the experiment's artifact location",
    ):
        model_uri, sha256 = log_model()
    registered = registry.register(model_uri, run_id, sha256)
    logged_model.name_run(month, registered.version)
    context.log.info(
        f"registered {registered.name} v{registered.version} (@challenger) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return registered, sha256


def invoke_trainer(
    context: dg.AssetExecutionContext,
    command: list[str],
    config: TrainerConfig,
    arguments: list[str],
    extras: dict,
    timeout_s: float,
    trainer: TrainerResource,
    registry: RegistryClient,
    reporter: EpochReporter,
) -> TrainerInvocation:
    """Runs an own trainer through Pipes with the contract's arguments, the launchpad's typed
    arguments after them, and the active MLflow run's tracking URI and experiment.

    Raises:
        dagster.Failure: a launchpad argument does not fit its type, or the trainer failed.
    """
    active = mlflow.active_run()
    return trainer.get_client().run(
        context=context,
        command=[*command, *arguments, *argument_flags(config.trainer_args)],
        timeout_s=timeout_s,
        extras=extras,
        env={
            "MLFLOW_TRACKING_URI": registry.tracking_uri,
            "MLFLOW_EXPERIMENT_ID": active.info.experiment_id if active else "",
        },
        on_progress=reporter,
    )


def trainer_receipts(
    command: list[str], invocation: TrainerInvocation, sha256: str, registry: RegistryClient
) -> dict:
    """The asset metadata of an own trainer's run: its command, its model's hash, what it
    reported, and a link to its own MLflow run (also tagged on the active run)."""
    metadata: dict = {
        "trainer": shlex.join(command),
        "trainer_model_sha256": sha256,
        **invocation.reported_metadata,
    }
    trainer_run_id = invocation.run_meta.get("mlflow_run_id")
    if trainer_run_id:
        mlflow.set_tag("trainer_mlflow_run_id", trainer_run_id)
        metadata["trainer_mlflow_run"] = dg.MetadataValue.url(registry.run_url(trainer_run_id))
    return metadata
