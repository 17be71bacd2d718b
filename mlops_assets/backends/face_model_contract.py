"""The face verifier as an MLflow model: logged as a pyfunc holding `face_verifier.npz`.

Minimal version of the contract (helper i22d owns the full one): `log_face_verifier` logs the
verifier inside the active run with a signature and an input example and returns the model URI
and the sha256 of the `.npz` as written here; `load_face_verifier` finds that file in a
downloaded version folder, checks the hash and loads it (no pickle). No dagster import.
"""

import hashlib
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from mlops_assets.ml.face_verifier import FaceVerifier

VERIFIER_FILE = "face_verifier.npz"
INPUT_EXAMPLE_PAIRS = 2


class VerifierIntegrityError(ValueError):
    """The verifier file is not the one that was registered."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as saved:
        return hashlib.file_digest(saved, "sha256").hexdigest()


class FaceVerifierModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: rows of two concatenated face vectors in, a cosine score per row out."""

    def load_context(self, context) -> None:
        self.verifier = FaceVerifier.load(Path(context.artifacts["verifier"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return pair_scores(self.verifier, np.asarray(model_input, dtype=np.float64))


def pair_scores(verifier: FaceVerifier, pairs: np.ndarray) -> np.ndarray:
    """Scores rows of `[first | second]` face vectors."""
    first, second = np.split(pairs, 2, axis=1)
    return np.einsum("ij,ij->i", verifier.embed(first), verifier.embed(second))


def log_face_verifier(verifier: FaceVerifier, example_vectors: np.ndarray) -> tuple[str, str]:
    """Logs the verifier in the active MLflow run as a pyfunc model named `model`.

    Args:
        verifier: the trained verifier.
        example_vectors: face vectors; the first ones pair up into the input example.

    Returns:
        `(model_uri, sha256)`: the logged model and the hash of its `.npz` as written here.
    """
    rows = example_vectors[: 2 * INPUT_EXAMPLE_PAIRS].reshape(INPUT_EXAMPLE_PAIRS, -1)
    example = pd.DataFrame(rows, columns=[f"v{i}" for i in range(rows.shape[1])])
    signature = infer_signature(example, pair_scores(verifier, rows))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / VERIFIER_FILE
        verifier.save(path)
        sha256 = _sha256(path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=FaceVerifierModel(),
            artifacts={"verifier": str(path)},
            signature=signature,
            input_example=example,
            pip_requirements=[f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"],
        )
    return info.model_uri, sha256


def load_face_verifier(model_dir: Path, expected_sha256: str | None = None) -> FaceVerifier:
    """Finds `VERIFIER_FILE` under a downloaded version folder, checks its hash and loads it.

    Raises:
        FileNotFoundError: the folder holds no `VERIFIER_FILE`.
        VerifierIntegrityError: its sha256 differs from `expected_sha256`.
        ValueError: the file is not a face verifier.
    """
    model_dir = Path(model_dir)
    found = (
        [model_dir] if model_dir.name == VERIFIER_FILE else sorted(model_dir.rglob(VERIFIER_FILE))
    )
    if not found:
        raise FileNotFoundError(f"{model_dir} holds no {VERIFIER_FILE}")
    path = found[0]
    if expected_sha256 is not None:
        actual = _sha256(path)
        if actual != expected_sha256:
            raise VerifierIntegrityError(
                f"{VERIFIER_FILE}: sha256 {actual[:12]}… differs from the registered "
                f"{expected_sha256[:12]}…; the artifact was changed after registration"
            )
    return FaceVerifier.load(path)
