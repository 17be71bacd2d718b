"""What MLflow records with every challenger: the model's contract and its data's lineage.

- the Keras 3 flavor (`mlflow.keras`, native `.keras` file); `mlflow.tensorflow` is for tf.keras 2,
- a signature and an input example: the model's own input, photos shaped (n, 8, 8, 1) float32
  scaled to 0..1, and its output, one probability per label,
- pip requirements pinned to the versions installed (those of the lock file),
- the training snapshot and the holdout as MLflow datasets (`mlflow.log_input`), named by the data
  version and pointing at the Parquet snapshot,
- the holdout metrics linked to the logged model and the holdout dataset (MLflow 3 logged
  models), so the model's page shows the figures it was judged by,
- a readable run name: month and challenger version.

No dagster import: the asset calls these inside the MLflow run dagster-mlflow started.
"""

import contextlib
import hashlib
import importlib.metadata
import os
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import Model, ModelInfo

from mlops_assets.backends.registry import logged_model_id
from mlops_assets.constants import PIXEL_COUNT

# What loading the model needs; the TensorFlow build is whichever is installed (CPU or CUDA).
REQUIRED_DISTRIBUTIONS = (("tensorflow-cpu", "tensorflow"), ("keras",), ("numpy",))
INPUT_EXAMPLE_ROWS = 2


def pinned_requirements(
    distributions: tuple[tuple[str, ...], ...] = REQUIRED_DISTRIBUTIONS,
) -> list[str]:
    """`name==version` of each distribution loading the model needs, as installed here.

    Args:
        distributions: for each requirement, the names it may be installed under (the
            first installed one is pinned); default the photo model's.
    """
    pins = []
    for choices in distributions:
        for name in choices:
            try:
                pins.append(f"{name}=={importlib.metadata.version(name)}")
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        else:
            raise RuntimeError(f"none of {choices} is installed: run `make install`")
    return pins


class _KerasFlavor:
    """`mlflow.keras`, creating the model folder before the input example is written into it,
    and hashing the saved `.keras` file before MLflow uploads it.

    `mlflow.keras.log_model(..., input_example=...)` writes the example into a folder it has not
    created yet and fails (mlflow/mlflow#16183, open in MLflow 3.17).
    """

    __name__ = "mlflow.keras"

    def __init__(self) -> None:
        self.sha256: str | None = None

    def save_model(self, path: str, validate_serving_input: bool = False, **kwargs) -> None:
        os.makedirs(path, exist_ok=True)
        mlflow.keras.save_model(path=path, **kwargs)
        (keras_file,) = Path(path).rglob("*.keras")
        with open(keras_file, "rb") as saved:
            self.sha256 = hashlib.file_digest(saved, "sha256").hexdigest()


def model_signature(model, x: np.ndarray) -> ModelSignature:
    """The model's input and output schema, inferred from its answer to `x`.

    Args:
        model: the Keras model.
        x: a few photos as the model takes them, (n, 8, 8, 1) float32.
    """
    probabilities = np.asarray(model(x, training=False), dtype=np.float32)
    return infer_signature(x, probabilities)


def log_keras_model(model, x: np.ndarray) -> tuple[ModelInfo, str]:
    """Logs the model as an MLflow model named `model`, with its contract.

    Args:
        model: the trained Keras model.
        x: training inputs; the first rows become the input example.

    Returns:
        MLflow's record of the logged model (`model_uri` is `models:/m-…`) and the sha256 of
        its `.keras` file as written here, before the upload (what the registry must serve).
    """
    example = x[:INPUT_EXAMPLE_ROWS]
    flavor = _KerasFlavor()
    # `Model.log` is what `mlflow.keras.log_model` calls, with the flavor passed in.
    info = Model.log(
        artifact_path=None,
        name="model",
        flavor=flavor,
        flavor_name="mlflow.keras",
        model=model,
        signature=model_signature(model, example),
        input_example=example,
        pip_requirements=pinned_requirements(),
        # Validating the example reloads the model through pyfunc and predicts with a progress
        # bar, seconds per run; the signature is inferred from this model's own answer to it.
        validate_serving_input=False,
    )
    return info, flavor.sha256


@contextlib.contextmanager
def dataset_hints_silenced():
    """MLflow's dataset warnings that do not apply to a snapshot (the schema is computed
    lazily, so they come wherever a dataset is first used)."""
    with warnings.catch_warnings():
        # `file://` resolves to the same local source under two schemes; MLflow warns and picks it.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        # The grey levels are integers and never missing (the `no_missing_pixels` check).
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        yield


def snapshot_dataset(frame: pd.DataFrame, name: str, source: str | None) -> PandasDataset:
    """An MLflow dataset of snapshot rows: one column per grey level, plus the label.

    Args:
        frame: rows with `pixels` (64 grey levels) and `label`.
        name: the dataset's name, e.g. `train-2025-01-01-3f2a…`.
        source: where the rows are stored (the Parquet snapshot's URI), if anywhere.
    """
    pixels = np.stack(frame["pixels"].to_list()) if len(frame) else np.zeros((0, PIXEL_COUNT))
    tidy = pd.DataFrame(pixels.astype(np.int16), columns=[f"p{i}" for i in range(PIXEL_COUNT)])
    tidy["label"] = frame["label"].to_numpy(dtype=np.int16)
    with dataset_hints_silenced():
        return mlflow.data.from_pandas(tidy, source=source, targets="label", name=name)


def log_datasets(train: PandasDataset, holdout: PandasDataset) -> None:
    """Records which data the run trained on and which it was judged on."""
    with dataset_hints_silenced():
        mlflow.log_input(train, context="training")
        mlflow.log_input(holdout, context="holdout")


def log_holdout_metrics(metrics: dict[str, float], model_uri: str, holdout: PandasDataset) -> None:
    """Logs the holdout metrics in the run, linked to the logged model and the holdout dataset."""
    with dataset_hints_silenced():
        mlflow.log_metrics(metrics, model_id=logged_model_id(model_uri), dataset=holdout)


def name_run(month: str, version: str) -> None:
    """Gives the active run a readable name: `2025-01 challenger v7`."""
    mlflow.set_tag("mlflow.runName", f"{month[:7]} challenger v{version}")


def registered_file(
    model_dir: Path, file_name: str, expected_sha256: str | None, error: type[ValueError]
) -> Path:
    """The one `file_name` under a downloaded version folder, its hash checked.

    Args:
        model_dir: the downloaded folder, or the file itself (a source that hands out the file).
        file_name: the model's file name (e.g. the face verifier's `.npz`).
        expected_sha256: the registered hash; None skips the check.
        error: the integrity error to raise.

    Raises:
        error: no such file, several, or one whose hash differs.
    """
    model_dir = Path(model_dir)
    found = [model_dir] if model_dir.is_file() else sorted(model_dir.rglob(file_name))
    if len(found) != 1:
        raise error(
            f"{model_dir} holds {len(found)} {file_name} files; a version holds exactly one"
        )
    (path,) = found
    if expected_sha256 is not None:
        with open(path, "rb") as stream:
            actual = hashlib.file_digest(stream, "sha256").hexdigest()
        if actual != expected_sha256:
            raise error(
                f"{path.name}: sha256 {actual[:12]}… differs from the registered "
                f"{expected_sha256[:12]}…; the artifact was changed after registration"
            )
    return path
