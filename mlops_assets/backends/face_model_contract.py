"""What MLflow records with every face verifier challenger, and how a version is loaded back.

- an MLflow pyfunc model logged as code (`face_pyfunc.py`), its one artifact the verifier's
  `.npz` (`VERIFIER_FILE`: plain arrays, no pickle),
- a signature and an input example: pairs of face vectors (n, 2, dimension) float64 in,
  `score` (cosine) and `match` (at the fitted threshold) out,
- pip requirements pinned to the versions installed,
- the sha256 of the `.npz` as written here, before the upload: the registry tags and signs it
  (`RegistryClient.register`), and `load_face_verifier` checks it before reading the file.

No dagster import: the training asset calls `log_face_verifier` inside its MLflow run, the
inference server `load_face_verifier` on a downloaded version folder.
"""

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.models import infer_signature

from mlops_assets.backends.model_contract import (
    dataset_hints_silenced,
    pinned_requirements,
    registered_file,
)
from mlops_assets.contracts.trainer import VERIFIER_FILE
from mlops_assets.ml.face_data import face_arrays
from mlops_assets.ml.face_training import file_sha256
from mlops_assets.ml.face_verifier import FaceVerifier

# What loading the pyfunc needs besides this package.
REQUIRED_DISTRIBUTIONS = (("numpy",), ("pandas",), ("scikit-learn",))
INPUT_EXAMPLE_PAIRS = 2
# The pyfunc's code file (not imported here: MLflow runs it when the model is loaded) and the
# key of the verifier file among the logged model's artifacts.
PYFUNC_CODE = Path(__file__).with_name("face_pyfunc.py")
VERIFIER_ARTIFACT = "verifier"


class VerifierIntegrityError(ValueError):
    """The verifier file is missing, ambiguous or not the one that was registered."""


def example_pairs(vectors: np.ndarray, count: int = INPUT_EXAMPLE_PAIRS) -> np.ndarray:
    """Pairs of consecutive rows of `vectors`, shaped as the pyfunc takes them (count, 2, d)."""
    rows = np.asarray(vectors, dtype=np.float64)[: 2 * count]
    if len(rows) < 2 * count:
        raise ValueError(f"an input example needs {2 * count} vectors, got {len(rows)}")
    return rows.reshape(count, 2, rows.shape[1])


def log_face_verifier(verifier: FaceVerifier, example_vectors: np.ndarray) -> tuple[str, str]:
    """Logs the verifier as an MLflow pyfunc model named `model`, inside the active run.

    Args:
        verifier: the trained verifier.
        example_vectors: a few face vectors (at least four); consecutive pairs become the
            input example.

    Returns:
        `(model_uri, sha256)`: the logged model (`models:/m-…`) and the hash of its `.npz`
        as written here (what the registry must serve).
    """
    pairs = example_pairs(example_vectors)
    scores = verifier.scores(pairs[:, 0], pairs[:, 1])
    answer = pd.DataFrame({"score": scores, "match": scores >= verifier.threshold})
    with tempfile.TemporaryDirectory(prefix="face-verifier-") as folder:
        path = Path(folder) / VERIFIER_FILE
        verifier.save(path)
        sha256 = file_sha256(path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={VERIFIER_ARTIFACT: str(path)},
            signature=infer_signature(pairs, answer),
            input_example=pairs,
            pip_requirements=pinned_requirements(REQUIRED_DISTRIBUTIONS),
        )
    return info.model_uri, sha256


def face_dataset(frame: pd.DataFrame, name: str, source: str | None) -> PandasDataset:
    """An MLflow dataset of face snapshot rows: one column per vector component, plus the
    helper id as the target (the identity).

    Args:
        frame: rows with `vector` and `helper_id`.
        name: the dataset's name, e.g. `holdout-2025-01-01-3f2a…`.
        source: where the rows are stored (the Parquet snapshot's URI), if anywhere.
    """
    vectors, identities = face_arrays(frame)
    tidy = pd.DataFrame(vectors, columns=[f"v{i}" for i in range(vectors.shape[1])])
    tidy["helper_id"] = identities.astype(str)
    with dataset_hints_silenced():
        return mlflow.data.from_pandas(tidy, source=source, targets="helper_id", name=name)


def load_face_verifier(model_dir: Path, expected_sha256: str | None = None) -> FaceVerifier:
    """Finds `VERIFIER_FILE` under a downloaded version folder, checks its hash, loads it.

    Args:
        model_dir: the folder `RegistryClient.download_version_folder` returned (or the
            verifier file itself).
        expected_sha256: the registered hash (`RegisteredModel.sha256`); None skips the check.

    Raises:
        VerifierIntegrityError: no verifier file, several, or one whose hash differs.
        ValueError: the file is not a face verifier (`FaceVerifier.load`).
    """
    path = registered_file(model_dir, VERIFIER_FILE, expected_sha256, VerifierIntegrityError)
    return FaceVerifier.load(path)
