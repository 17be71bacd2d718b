"""The model holder: the serving model in one reference, replaced by one assignment.

Readers never lock: a request reads `holder.current` once and keeps that object until it has
answered, so the model version in a response is always the one that computed it, and a replaced
model is freed only after its last in-flight request (reference counting). Writers (reloads) are
serialized by the reloader; the swap itself only assigns.
"""

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from mlops_assets.ml.face_verifier import FaceVerifier, Verification
from mlops_assets.ml.predictor import Prediction, Predictor
from mlops_assets.ml.risk_model import RiskModel


@dataclass(frozen=True)
class LoadedModel:
    """A loaded, warmed and smoke-tested model version.

    `predictor` is what the version's task loaded: a `Predictor` (classification) or a
    `FaceVerifier` (verification) or a `RiskModel` (risk).
    """

    name: str
    version: str
    run_id: str | None
    source: str
    sha256: str
    loaded_at: datetime
    load_seconds: float
    predictor: Predictor | FaceVerifier | RiskModel

    def predict(self, pixels: np.ndarray) -> Prediction:
        """Predicts raw grey levels shaped (n, 64) (classification models)."""
        return self.predictor.predict_pixels(pixels)

    def verify(self, first: np.ndarray, second: np.ndarray) -> Verification:
        """Scores two face vectors and matches them at the calibrated threshold (verification
        models)."""
        return self.predictor.verify(first, second)


class ModelHolder:
    """Holds the serving model and, for instant swap-back, the one it replaced."""

    def __init__(self) -> None:
        self._current: LoadedModel | None = None
        self._standby: LoadedModel | None = None
        self._swap_lock = threading.Lock()
        self.swaps = 0
        self.swap_hold_ns: deque[int] = deque(maxlen=1000)

    @property
    def current(self) -> LoadedModel | None:
        """The model serving now; read it once per request."""
        return self._current

    @property
    def standby(self) -> LoadedModel | None:
        """The model replaced last, kept loaded so a rollback swaps back without loading."""
        return self._standby

    def swap(self, model: LoadedModel) -> LoadedModel | None:
        """Makes `model` the serving model in one assignment.

        Args:
            model: a loaded and smoke-tested model.

        Returns:
            The model it replaced (now the standby), or None for the first model.
        """
        started = time.perf_counter_ns()
        with self._swap_lock:
            previous = self._current
            self._current = model
            if previous is not None and previous is not model:
                self._standby = previous
        self.swap_hold_ns.append(time.perf_counter_ns() - started)
        self.swaps += 1
        return previous
