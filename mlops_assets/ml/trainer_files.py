"""The files between the training asset and a trainer process: the data it gets, the model it
writes, and the checks that model passes before it is registered."""

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from mlops_assets.constants import IMAGE_SHAPE, LABELS
from mlops_assets.contracts.trainer import DATA_INPUTS, DATA_LABELS, TrainerOutputError
from mlops_assets.ml.predictor import ArtifactIntegrityError, Predictor, file_sha256


@dataclass(frozen=True)
class ProducedModel:
    """A trainer's model after the checks: loaded, smoke-tested, hashed."""

    model: keras.Model
    path: Path
    sha256: str


def write_training_data(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Writes the training split as `.npz`: `x` float32 (n, 8, 8, 1) in 0..1 (the served model's
    input), `y` int labels 0..9.

    Args:
        path: the file to write.
        x: model-ready inputs.
        y: labels.

    Returns:
        The path.
    """
    np.savez(path, **{DATA_INPUTS: x.astype(np.float32), DATA_LABELS: y.astype(np.int64)})
    return path


def read_training_data(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads a file written by `write_training_data` (no pickled objects are loaded)."""
    with np.load(path, allow_pickle=False) as data:
        return data[DATA_INPUTS], data[DATA_LABELS]


def find_model_file(output_dir: Path) -> Path:
    """Returns the one `.keras` file a trainer wrote under `output_dir`.

    Raises:
        TrainerOutputError: none, or several.
    """
    found = sorted(output_dir.rglob("*.keras"))
    if len(found) == 1:
        return found[0]
    others = sorted(p.name for p in output_dir.rglob("*") if p.is_file())[:10]
    if not found:
        raise TrainerOutputError(
            f"the trainer wrote no .keras model in {output_dir} (found: {others or 'nothing'}). "
            "Save the model with model.save(os.path.join(output_dir, 'model.keras')) or report "
            'an MLflow run id (VTM_RUN_META::{"mlflow_run_id": …}) whose run logged it.'
        )
    raise TrainerOutputError(
        f"the trainer wrote {len(found)} .keras files in {output_dir}: "
        f"{[p.name for p in found]}; write exactly one"
    )


def check_model_file(path: Path, sample: np.ndarray) -> ProducedModel:
    """Loads a trainer's `.keras` file in safe mode and smoke-tests a prediction.

    Args:
        path: the model file.
        sample: a few model-ready inputs (n, 8, 8, 1).

    Returns:
        The loaded model with its file's sha256.

    Raises:
        TrainerOutputError: it does not load, or does not answer one probability per class for
            each input.
    """
    sha256 = file_sha256(path)
    try:
        predictor = Predictor.load(path)
        probabilities = predictor.predict_inputs(sample).probabilities
    except ArtifactIntegrityError as error:
        raise TrainerOutputError(str(error)) from error
    except Exception as error:  # noqa: BLE001 (any load or call error means an unusable file)
        raise TrainerOutputError(
            f"{path.name} does not load as a Keras model taking (n, {IMAGE_SHAPE[0]}, "
            f"{IMAGE_SHAPE[1]}, 1) inputs: {type(error).__name__}: {error}"
        ) from error
    expected = (len(sample), len(LABELS))
    if probabilities.shape != expected:
        raise TrainerOutputError(
            f"{path.name} answers shape {probabilities.shape} for {len(sample)} photos; "
            f"expected {expected}: one probability per label"
        )
    sums = probabilities.sum(axis=1)
    if not np.all(np.isfinite(probabilities)) or not np.allclose(sums, 1.0, atol=1e-3):
        raise TrainerOutputError(
            f"{path.name} does not answer probabilities (rows sum to {sums.min():.3f}.."
            f"{sums.max():.3f}); end the model with a softmax"
        )
    return ProducedModel(predictor.model, path, sha256)
