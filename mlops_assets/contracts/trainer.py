"""The trainer contract: what a `train.py` and the `trained_model` asset say to each other.

A trainer is a process. It gets its arguments on the command line (`--train-data`, `--output-dir`,
`--epochs`, `--seed`, then the run's extra arguments) and speaks back in either dialect:

- the run manager's stdout lines: `VTM_PROGRESS::{"epoch": 3, "total_epochs": 40,
  "val_accuracy": 0.91}` and `VTM_RUN_META::{"mlflow_run_id": "…"}`, one JSON object a line;
- Dagster Pipes custom messages with the same objects plus `"kind": "progress"` or
  `"kind": "run_meta"` (`context.report_custom_message(...)`).

Exit code 0 means completed; anything else failed. No dagster import: the built-in trainer
process and the asset share these definitions.
"""

import argparse
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PROGRESS_PREFIX = "VTM_PROGRESS::"
RUN_META_PREFIX = "VTM_RUN_META::"
PROGRESS_KIND = "progress"
RUN_META_KIND = "run_meta"

# The data file's arrays: model-ready inputs and labels (the holdout is never in it).
DATA_INPUTS = "x"
DATA_LABELS = "y"
DATA_FILE_NAME = "train.npz"
# A verification trainer's data file adds the threshold's identities and the target rate (its
# `x` are face vectors, its `y` identity codes), and it leaves `VERIFIER_FILE` (the
# `FaceVerifier.save` format) in its output folder instead of a `.keras` model.
DATA_VALIDATION = "validation"
DATA_TARGET_FAR = "target_far"
VERIFIER_FILE = "face_verifier.npz"

# What every trainer inherits from the pipeline's environment: enough to find its interpreter,
# libraries, locale, temporary folder and GPU, nothing that holds a secret. Anything else only
# when the deployment names it (MLOPS_TRAINER_ENV).
BASE_ENVIRONMENT = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "TF_CPP_MIN_LOG_LEVEL",
)
# Names of passed variables whose values are masked in the trainer's stderr.
SECRET_VARIABLE = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|URL|URI|WEBHOOK", re.IGNORECASE)


def trainer_environment(
    parent: Mapping[str, str], passthrough: Sequence[str], extra: Mapping[str, str]
) -> dict[str, str]:
    """The trainer's environment: `BASE_ENVIRONMENT` and the declared `passthrough` variables
    of `parent`, plus `extra` (Pipes' bootstrap, the MLflow URI)."""
    names = (*BASE_ENVIRONMENT, *passthrough)
    return {**{n: parent[n] for n in names if n in parent}, **extra}


# Metrics shown first, in this order, when a trainer reports several.
HEADLINE_METRICS = ("val_accuracy", "accuracy", "val_tar_at_far", "val_loss", "loss")


class TrainerOutputError(ValueError):
    """The trainer left nothing usable: no model file, an unreadable one, or one that answers
    nonsense."""


class MalformedTrainerMessage(ValueError):
    """A protocol line or message that cannot be read; it is ignored with a warning."""


@dataclass(frozen=True)
class Progress:
    """One epoch's report: where the trainer is and its numeric metrics."""

    epoch: int
    total_epochs: int | None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        if not self.total_epochs:
            return None
        return min(1.0, self.epoch / self.total_epochs)

    @property
    def headline(self) -> tuple[str, float] | None:
        """The metric a person checks first (val_accuracy when reported)."""
        for name in HEADLINE_METRICS:
            if name in self.metrics:
                return name, self.metrics[name]
        return next(iter(sorted(self.metrics.items())), None)

    def eta_s(self, elapsed_s: float) -> float | None:
        """Seconds left at the mean epoch time so far; None without a total."""
        if not self.total_epochs or self.epoch <= 0:
            return None
        return max(0.0, elapsed_s / self.epoch * (self.total_epochs - self.epoch))


# MLflow's run ids are uuid4 hex strings; nothing else is formatted into a registry query.
MLFLOW_RUN_ID = re.compile(r"[0-9a-f]{32}")
METRIC_NAME_MAX_CHARS = 250


@dataclass(frozen=True)
class RunMeta:
    """Facts about the trainer's run; `mlflow_run_id` links the asset to the trainer's run."""

    values: dict

    @property
    def mlflow_run_id(self) -> str | None:
        value = self.values.get("mlflow_run_id")
        return str(value) if value else None


def progress_from(payload: object) -> Progress:
    """Reads a progress object (`epoch` required, `total_epochs` optional, numbers as metrics).

    Raises:
        MalformedTrainerMessage: not an object, or no whole non-negative `epoch`.
    """
    if not isinstance(payload, dict):
        raise MalformedTrainerMessage(f"progress must be a JSON object, got {payload!r:.80}")
    epoch, total = payload.get("epoch"), payload.get("total_epochs")
    if not _is_count(epoch):
        raise MalformedTrainerMessage(f"progress needs a whole 'epoch' >= 0, got {epoch!r:.40}")
    if total is not None and not (_is_count(total) and total > 0):
        raise MalformedTrainerMessage(f"'total_epochs' must be a whole number > 0, got {total!r}")
    # Metric names reach logs, the UI and `mlops-assets runs`: printable ones only, and no
    # longer than MLflow keeps.
    metrics = {
        k: float(v)
        for k, v in payload.items()
        if k not in ("epoch", "total_epochs", "kind")
        and isinstance(k, str)
        and k.isprintable()
        and len(k) <= METRIC_NAME_MAX_CHARS
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
    }
    return Progress(int(epoch), int(total) if total is not None else None, metrics)


def run_meta_from(payload: object) -> RunMeta:
    """Reads a run-meta object.

    Raises:
        MalformedTrainerMessage: not a JSON object.
    """
    if not isinstance(payload, dict):
        raise MalformedTrainerMessage(f"run meta must be a JSON object, got {payload!r:.80}")
    run_id = payload.get("mlflow_run_id")
    if run_id is not None and not (isinstance(run_id, str) and MLFLOW_RUN_ID.fullmatch(run_id)):
        raise MalformedTrainerMessage(
            f"mlflow_run_id must be an MLflow run id (32 hex digits), got {run_id!r:.80}"
        )
    return RunMeta({k: v for k, v in payload.items() if k != "kind"})


def parse_line(line: str) -> Progress | RunMeta | None:
    """Reads one stdout line: a Progress or RunMeta, or None for ordinary output.

    Raises:
        MalformedTrainerMessage: the line has a protocol prefix but no readable object after it.
    """
    text = line.strip()
    for prefix, reader in ((PROGRESS_PREFIX, progress_from), (RUN_META_PREFIX, run_meta_from)):
        if text.startswith(prefix):
            try:
                payload = json.loads(text[len(prefix) :])
            except (ValueError, RecursionError) as error:
                raise MalformedTrainerMessage(f"{prefix} line is not JSON: {error}") from None
            return reader(payload)
    return None


def parse_custom_message(payload: object) -> Progress | RunMeta | None:
    """Reads a Pipes custom message; None for messages of other kinds.

    Raises:
        MalformedTrainerMessage: a progress or run-meta message that cannot be read.
    """
    kind = payload.get("kind") if isinstance(payload, dict) else None
    if kind == PROGRESS_KIND:
        return progress_from(payload)
    if kind == RUN_META_KIND:
        return run_meta_from(payload)
    return None


def add_setting_flags(parser: argparse.ArgumentParser, fields: Mapping) -> None:
    """Adds one `--flag-name` per hyperparameter (a pydantic model's `model_fields`), typed,
    with its default and description, for a trainer run by hand."""
    for name, info in fields.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=info.annotation, default=info.default,
            help=info.description,
        )  # fmt: skip


def progress_line(progress: dict) -> str:
    """The seed's stdout line for a progress object (for trainers written in Python)."""
    return PROGRESS_PREFIX + json.dumps(progress)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class EtaClock:
    """Remaining time from the epochs reported so far.

    From the second report on it uses the mean time per epoch since the first report, so a
    trainer process's start (interpreter, imports, data) does not count as epoch time.
    """

    def __init__(self, started: float):
        self.started = started
        self._first: tuple[float, int] | None = None

    def eta_s(self, progress: Progress, now: float) -> float | None:
        if self._first is None:
            self._first = (now, progress.epoch)
        first_at, first_epoch = self._first
        if not progress.total_epochs or progress.epoch <= first_epoch:
            return progress.eta_s(now - self.started)
        per_epoch = (now - first_at) / (progress.epoch - first_epoch)
        return max(0.0, per_epoch * (progress.total_epochs - progress.epoch))


def progress_record(progress: Progress, elapsed_s: float, eta_s: float | None) -> dict:
    """The facts of one progress report as the run log keeps them (and `mlops-assets runs`
    reads them back): epoch, total, percent, headline metric, elapsed and remaining seconds."""
    record: dict = {"epoch": progress.epoch, "elapsed_s": round(elapsed_s, 1)}
    if progress.total_epochs:
        record["total_epochs"] = progress.total_epochs
        record["percent"] = round(100 * progress.fraction, 1)
    if eta_s is not None:
        record["eta_s"] = round(eta_s, 1)
    if progress.headline is not None:
        record["metric"], record["metric_value"] = progress.headline[0], progress.headline[1]
    return record
