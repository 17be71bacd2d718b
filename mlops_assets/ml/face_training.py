"""The built-in `face_projection` trainer and the files it shares with a trainer process.

Training has two steps, reported as progress like the photo CNN's epochs: fit the projection on
the training identities, then fit the threshold on the validation identities and measure it
there. A trainer process (`python -m mlops_assets.ml.face_trainer`, or an own `train.py`) gets
the same data as one `.npz` file and leaves `face_verifier.npz` in its output folder.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mlops_assets.contracts.trainer import (
    DATA_INPUTS,
    DATA_LABELS,
    DATA_TARGET_FAR,
    DATA_VALIDATION,
    VERIFIER_FILE,
    TrainerOutputError,
)
from mlops_assets.ml.face_metrics import equal_error_rate
from mlops_assets.ml.face_verifier import (
    DEFAULT_COMPONENTS,
    FaceVerifier,
    calibrate,
    fit_projection,
)

TOTAL_STEPS = 2
# Rows the produced verifier is smoke-tested on before it is registered.
SMOKE_TEST_ROWS = 8


class FaceTrainSettings(BaseModel):
    """Hyperparameters of one face verifier training run."""

    model_config = ConfigDict(frozen=True)

    components: int = Field(
        default=DEFAULT_COMPONENTS, ge=1, description="Directions the projection keeps."
    )
    max_impostor_pairs: int = Field(
        default=500_000,
        ge=1000,
        description="Impostor pairs sampled on the validation identities to fit the threshold.",
    )
    seed: int = Field(default=0, description="Seed of the impostor sampling.")


@dataclass(frozen=True)
class FaceTrainResult:
    """What a face training run produced: the verifier, its validation figures, the time."""

    verifier: FaceVerifier
    seconds: float
    steps_run: int
    metrics: dict[str, float] = field(default_factory=dict)


OnStep = Callable[[int, dict[str, float]], None]


def train_face_projection(
    vectors: np.ndarray,
    identities: np.ndarray,
    validation: np.ndarray,
    target_far: float,
    settings: FaceTrainSettings | None = None,
    on_step: OnStep | None = None,
) -> FaceTrainResult:
    """Fits the projection on the training rows and the threshold on the validation rows.

    Args:
        vectors: face vectors, one a row.
        identities: each row's identity.
        validation: boolean row mask of the validation identities (no identity on both sides).
        target_far: the false-accept rate the threshold is fitted for.
        settings: the hyperparameters (None: the defaults).
        on_step: called after each step with its number (1-based) and its metrics.

    Returns:
        The verifier and the validation metrics (val_tar_at_far, val_far, val_eer, pairs).

    Raises:
        ValueError: an identity on both sides, or too few identities on either.
    """
    settings = settings or FaceTrainSettings()
    report = on_step or (lambda _step, _metrics: None)
    validation = np.asarray(validation, dtype=bool)
    shared = set(identities[validation].tolist()) & set(identities[~validation].tolist())
    if shared:
        raise ValueError(f"{len(shared)} identities are in training and validation alike")
    started = time.perf_counter()
    mean, projection = fit_projection(
        vectors[~validation], identities[~validation], settings.components
    )
    fit_identities = len(np.unique(identities[~validation]))
    report(1, {"fit_identities": fit_identities, "components": projection.shape[1]})
    untuned = FaceVerifier(mean, projection, threshold=1.0, target_far=target_far)
    verifier, genuine, impostor = calibrate(
        untuned,
        vectors[validation],
        identities[validation],
        settings.max_impostor_pairs,
        settings.seed,
    )
    if len(genuine) == 0:
        raise ValueError("the validation identities need one with two vectors")
    metrics = {
        "val_tar_at_far": float(np.mean(genuine >= verifier.threshold)),
        "val_far": float(np.mean(impostor >= verifier.threshold)),
        "val_eer": equal_error_rate(genuine, impostor),
        "threshold": verifier.threshold,
        "val_genuine_pairs": len(genuine),
        "val_impostor_pairs": len(impostor),
    }
    report(2, metrics)
    return FaceTrainResult(verifier, time.perf_counter() - started, TOTAL_STEPS, metrics)


def write_face_training_data(
    path: Path,
    vectors: np.ndarray,
    identities: np.ndarray,
    validation: np.ndarray,
    target_far: float,
) -> Path:
    """Writes a trainer process's data: `x` float64 vectors (n, dimension), `y` int64 identity
    codes, `validation` the boolean mask of the threshold's identities, `target_far`.

    Identities travel as codes (0..k-1), so no helper id reaches the trainer.
    """
    _, codes = np.unique(np.asarray(identities, dtype=str), return_inverse=True)
    np.savez(
        path,
        **{
            DATA_INPUTS: np.asarray(vectors, dtype=np.float64),
            DATA_LABELS: codes.astype(np.int64),
            DATA_VALIDATION: np.asarray(validation, dtype=bool),
            DATA_TARGET_FAR: np.float64(target_far),
        },
    )
    return path


def read_face_training_data(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Reads `write_face_training_data`'s file (no pickled objects are loaded).

    Returns:
        `(vectors, identity codes, validation mask, target_far)`.
    """
    with np.load(path, allow_pickle=False) as data:
        return (
            data[DATA_INPUTS],
            data[DATA_LABELS],
            data[DATA_VALIDATION],
            float(data[DATA_TARGET_FAR]),
        )


@dataclass(frozen=True)
class ProducedVerifier:
    """A trainer's verifier after the checks: loaded, smoke-tested, hashed."""

    verifier: FaceVerifier
    path: Path
    sha256: str


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def find_verifier_file(output_dir: Path) -> Path:
    """Returns the one `VERIFIER_FILE` a trainer wrote under `output_dir`.

    Raises:
        TrainerOutputError: none, or several.
    """
    found = sorted(output_dir.rglob(VERIFIER_FILE))
    if len(found) == 1:
        return found[0]
    others = sorted(p.name for p in output_dir.rglob("*") if p.is_file())[:10]
    raise TrainerOutputError(
        f"the trainer wrote {len(found)} {VERIFIER_FILE} files in {output_dir} (found: "
        f"{others or 'nothing'}); write exactly one with FaceVerifier.save(output_dir / "
        f"'{VERIFIER_FILE}')"
    )


def check_verifier_file(path: Path, sample: np.ndarray, target_far: float) -> ProducedVerifier:
    """Loads a trainer's verifier file and smoke-tests it on a few vectors.

    Args:
        path: the `.npz` file.
        sample: a few training vectors (n, dimension).
        target_far: the rate the run asked for; the file's threshold must be fitted for it.

    Raises:
        TrainerOutputError: it does not load, takes another dimension, was fitted for another
            rate, or does not score a vector against itself as a match.
    """
    sha256 = file_sha256(path)
    try:
        verifier = FaceVerifier.load(path)
        embedded = verifier.embed(sample)
    except (ValueError, OSError) as error:
        raise TrainerOutputError(f"{path.name} is not a usable face verifier: {error}") from error
    if not np.isclose(verifier.target_far, target_far):
        raise TrainerOutputError(
            f"{path.name} was fitted for FAR {verifier.target_far:g}, not the asked {target_far:g}"
        )
    self_scores = np.einsum("ij,ij->i", embedded, embedded)
    if not np.all(self_scores >= verifier.threshold):
        raise TrainerOutputError(
            f"{path.name} does not match a vector with itself (threshold {verifier.threshold:g})"
        )
    return ProducedVerifier(verifier, path, sha256)
