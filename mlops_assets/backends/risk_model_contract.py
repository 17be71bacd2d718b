"""What MLflow records with every confirmation-risk challenger, and how a version is loaded back.

- an MLflow pyfunc model logged as code (`risk_pyfunc.py`), its one artifact the model's
  `.npz` (`RISK_FILE`: plain arrays, no pickle),
- a signature and an input example: the feature columns (`RISK_FEATURES`) in,
  `risk_probability` and `risky` out,
- pip requirements pinned to the versions installed,
- the upstream champion versions the features came from, as the logged model's metadata,
- the sha256 of the `.npz` as written here: the registry tags and signs it
  (`RegistryClient.register`), and `load_risk_model` checks it before reading the file.

No dagster import.
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
from mlops_assets.ml.face_training import file_sha256
from mlops_assets.ml.risk_data import RISK_FEATURES, RISK_LABEL
from mlops_assets.ml.risk_model import RiskModel

REQUIRED_DISTRIBUTIONS = (("numpy",), ("pandas",), ("scikit-learn",))
RISK_FILE = "confirmation_risk.npz"
PYFUNC_CODE = Path(__file__).with_name("risk_pyfunc.py")
RISK_ARTIFACT = "risk_model"
INPUT_EXAMPLE_ROWS = 2


class RiskModelIntegrityError(ValueError):
    """The model file is missing, ambiguous or not the one that was registered."""


def log_risk_model(
    model: RiskModel, example_rows: np.ndarray, upstream_versions: dict[str, str]
) -> tuple[str, str]:
    """Logs the risk model as an MLflow pyfunc model named `model`, inside the active run.

    Args:
        model: the trained model.
        example_rows: a few feature rows (at least one); they become the input example.
        upstream_versions: each upstream model's champion version the features came from;
            kept in the logged model's metadata as `upstream.<name>.version`.

    Returns:
        `(model_uri, sha256)`: the logged model and the hash of its `.npz`.
    """
    example = pd.DataFrame(
        np.asarray(example_rows, dtype=np.float64)[:INPUT_EXAMPLE_ROWS], columns=RISK_FEATURES
    )
    probabilities = model.probabilities(example.to_numpy())
    answer = pd.DataFrame(
        {"risk_probability": probabilities, "risky": probabilities >= model.threshold}
    )
    with tempfile.TemporaryDirectory(prefix="risk-model-") as folder:
        path = Path(folder) / RISK_FILE
        model.save(path)
        sha256 = file_sha256(path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={RISK_ARTIFACT: str(path)},
            signature=infer_signature(example, answer),
            input_example=example,
            pip_requirements=pinned_requirements(REQUIRED_DISTRIBUTIONS),
            metadata={f"upstream.{name}.version": v for name, v in upstream_versions.items()},
        )
    return info.model_uri, sha256


def risk_dataset(frame: pd.DataFrame, name: str) -> PandasDataset:
    """An MLflow dataset of feature rows: the feature columns and `risky` as the target."""
    tidy = frame[[*RISK_FEATURES, RISK_LABEL]].astype({RISK_LABEL: int})
    with dataset_hints_silenced():
        return mlflow.data.from_pandas(tidy, targets=RISK_LABEL, name=name)


def load_risk_model(model_dir: Path, expected_sha256: str | None = None) -> RiskModel:
    """Finds `RISK_FILE` under a downloaded version folder, checks its hash, loads it.

    Args:
        model_dir: the folder `RegistryClient.download_version_folder` returned (or the file).
        expected_sha256: the registered hash; None skips the check.

    Raises:
        RiskModelIntegrityError: no model file, several, or one whose hash differs.
        ValueError: the file is not a risk model (`RiskModel.load`).
    """
    path = registered_file(model_dir, RISK_FILE, expected_sha256, RiskModelIntegrityError)
    return RiskModel.load(path)
