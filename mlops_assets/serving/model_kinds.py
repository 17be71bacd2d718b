"""What the server does differently per kind of model: how a downloaded version is loaded and
smoke-tested before it may serve.

A photo classifier is a native `.keras` file (`Predictor`), a verification model the face
verifier's `.npz` (`FaceVerifier`), a confirmation-risk model (an upstream_models source) its
`.npz` (`RiskModel`); each is checked against the sha256 recorded at registration before
anything reads it, and each must answer a smoke test.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from mlops_assets.backends.face_model_contract import load_face_verifier
from mlops_assets.backends.risk_model_contract import load_risk_model
from mlops_assets.constants import LABELS, PIXEL_COUNT, PIXEL_MAX
from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.ml.face_verifier import FaceVerifier
from mlops_assets.ml.predictor import Predictor
from mlops_assets.ml.risk_data import RISK_FEATURES
from mlops_assets.ml.risk_model import RiskModel

# How the server serves a model: photos in (classification), face pairs in (verification),
# feature values in (risk: a classifier of upstream models' outputs).
ServingKind = Literal["classification", "verification", "risk"]


def serving_kind(spec: ModelSpec) -> ServingKind:
    """The serving kind of a fleet model: risk for an upstream_models source, else its task."""
    return "risk" if spec.source.kind == "upstream_models" else spec.task


# A blank photo and a ramp of every grey level: a model that cannot answer these cannot serve.
SMOKE_PIXELS = np.stack([np.zeros(PIXEL_COUNT), np.linspace(0, PIXEL_MAX, PIXEL_COUNT)]).astype(
    np.float32
)
# Two unit vectors along the first two axes, and the first compared with itself.
SMOKE_VECTORS = np.eye(2, FACE_VECTOR_DIMENSION)

# Loads a downloaded version (the path a ModelSource returned) after checking its sha256.
Loader = Callable[[Path, str], object]


class SmokeTestError(ValueError):
    """A loaded model gave an answer it could not serve with."""


def smoke_test(predictor: Predictor) -> None:
    """Raises SmokeTestError unless the model returns a probability per label for each photo."""
    probabilities = predictor.predict_pixels(SMOKE_PIXELS).probabilities
    expected = (len(SMOKE_PIXELS), len(LABELS))
    if probabilities.shape != expected:
        raise SmokeTestError(f"smoke prediction shaped {probabilities.shape}, expected {expected}")
    if not np.isfinite(probabilities).all():
        raise SmokeTestError("smoke prediction holds NaN or infinite values")
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise SmokeTestError("smoke prediction rows do not sum to 1: not class probabilities")


def verifier_smoke_test(verifier: FaceVerifier) -> None:
    """Raises SmokeTestError unless the verifier takes face vectors of the contract's dimension
    and scores pairs with finite cosines (a vector matching itself)."""
    if verifier.dimension != FACE_VECTOR_DIMENSION:
        raise SmokeTestError(
            f"the verifier takes vectors of {verifier.dimension} values; face vectors have "
            f"{FACE_VECTOR_DIMENSION}"
        )
    if not -1.0 <= verifier.threshold <= 1.0:
        raise SmokeTestError(f"threshold {verifier.threshold} is not a cosine")
    first, second = SMOKE_VECTORS
    scores = [verifier.verify(first, second).score, verifier.verify(first, first).score]
    if not all(np.isfinite(s) and -1.0 - 1e-6 <= s <= 1.0 + 1e-6 for s in scores):
        raise SmokeTestError(f"smoke scores {scores} are not cosines")
    if scores[1] < 1.0 - 1e-6:
        raise SmokeTestError(f"a vector scores {scores[1]} against itself, not 1")


def load_classifier(path: Path, sha256: str) -> Predictor:
    """Loads a `.keras` file (or the one in a folder), hash-checked, warmed and smoke-tested."""
    if Path(path).is_dir():
        path = next(iter(sorted(Path(path).rglob("*.keras"))), path)
    predictor = Predictor.load(path, sha256)
    smoke_test(predictor)
    return predictor


def load_verifier(path: Path, sha256: str) -> FaceVerifier:
    """Loads the face verifier in a downloaded version folder, hash-checked and smoke-tested."""
    verifier = load_face_verifier(path, sha256)
    verifier_smoke_test(verifier)
    return verifier


def risk_smoke_test(model: RiskModel) -> None:
    """Raises SmokeTestError unless the model takes the risk features and answers
    probabilities."""
    rows = np.array([[0.9, 0.9, 0.3, 0.8], [0.05, 0.6, 1.2, 0.0]])
    if len(model.mean) != len(RISK_FEATURES):
        raise SmokeTestError(f"the model takes {len(model.mean)} features, not the risk ones")
    probabilities = model.probabilities(rows)
    if not (
        np.isfinite(probabilities).all() and ((0 <= probabilities) & (probabilities <= 1)).all()
    ):
        raise SmokeTestError(f"smoke risk probabilities {probabilities} are not probabilities")


def load_risk(path: Path, sha256: str) -> RiskModel:
    """Loads the risk model in a downloaded version folder, hash-checked and smoke-tested."""
    model = load_risk_model(path, sha256)
    risk_smoke_test(model)
    return model


LOADERS: dict[ServingKind, Loader] = {
    "classification": load_classifier,
    "verification": load_verifier,
    "risk": load_risk,
}
