"""The one inference path, shared by verification and the inference server.

Calls a compiled `tf.function` of the model instead of `model.predict`, which sets up a whole
prediction loop per call and is more than 20x slower for a single sample.
"""

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlops_assets.constants import IMAGE_SHAPE
from mlops_assets.ml.data import scale_pixels


class ArtifactIntegrityError(ValueError):
    """The model file is not the one that was registered."""


def file_sha256(path: str | Path) -> str:
    """Returns the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Prediction:
    """Labels and class probabilities for a batch of photos."""

    labels: np.ndarray
    probabilities: np.ndarray


class Predictor:
    """Wraps a Keras model in a compiled single-signature inference function."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._infer = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *IMAGE_SHAPE, 1), tf.float32)],
        )

    @classmethod
    def load(cls, path: str | Path, expected_sha256: str | None = None) -> "Predictor":
        """Loads a native `.keras` file in safe mode, after checking its hash.

        Args:
            path: the `.keras` file.
            expected_sha256: the hash recorded at registration; None skips the check.

        Returns:
            A warmed-up predictor.

        Raises:
            ArtifactIntegrityError: the file is not `.keras` or its hash differs.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ArtifactIntegrityError(f"{path.name}: only the native .keras format is loaded")
        if expected_sha256 is not None:
            actual = file_sha256(path)
            if actual != expected_sha256:
                raise ArtifactIntegrityError(
                    f"{path.name}: sha256 {actual[:12]}… differs from the registered "
                    f"{expected_sha256[:12]}…; the artifact was changed after registration"
                )
        model = keras.models.load_model(path, safe_mode=True, compile=False)
        predictor = cls(model)
        predictor.warm_up()
        return predictor

    def warm_up(self, rounds: int = 3) -> None:
        """Traces the compiled function so the first real request pays no tracing cost."""
        for batch in (1, 2) * rounds:
            self._infer(tf.zeros((batch, *IMAGE_SHAPE, 1), tf.float32))

    def predict_inputs(self, inputs: np.ndarray) -> Prediction:
        """Predicts from model-ready inputs shaped (n, 8, 8, 1) in 0..1."""
        probabilities = self._infer(tf.convert_to_tensor(inputs, tf.float32)).numpy()
        return Prediction(labels=probabilities.argmax(axis=1), probabilities=probabilities)

    def predict_pixels(self, pixels: np.ndarray) -> Prediction:
        """Predicts from raw grey levels shaped (n, 64) or (n, 8, 8)."""
        return self.predict_inputs(scale_pixels(pixels))


@dataclass(frozen=True)
class LatencyProfile:
    """Single-sample latency after warm-up, in seconds."""

    p50: float
    p95: float
    p99: float
    samples: int


def measure_latency(
    predictor: Predictor, inputs: np.ndarray, samples: int = 200, warmup: int = 20
) -> LatencyProfile:
    """Times one-sample predictions, cycling through `inputs`.

    Args:
        predictor: the predictor to time.
        inputs: model-ready inputs; each call takes one row.
        samples: timed calls.
        warmup: untimed calls first.

    Returns:
        Percentiles of the timed calls.
    """
    for i in range(warmup):
        predictor.predict_inputs(inputs[i % len(inputs)][None])
    timings = np.empty(samples)
    for i in range(samples):
        row = inputs[i % len(inputs)][None]
        started = time.perf_counter()
        predictor.predict_inputs(row)
        timings[i] = time.perf_counter() - started
    p50, p95, p99 = np.percentile(timings, [50, 95, 99])
    return LatencyProfile(p50=float(p50), p95=float(p95), p99=float(p99), samples=samples)
