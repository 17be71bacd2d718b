"""The shared inference path: same answers as Keras, safe loading, hash checks."""

import keras
import numpy as np
import pytest

from mlops_assets.ml.data import scale_pixels
from mlops_assets.ml.model import TrainSettings, build_model
from mlops_assets.ml.predictor import (
    ArtifactIntegrityError,
    Predictor,
    file_sha256,
    measure_latency,
)


@pytest.fixture(scope="module")
def model():
    return build_model(TrainSettings(filters=4, dense_units=8))


@pytest.fixture
def pixels():
    return np.random.default_rng(0).integers(0, 17, size=(5, 64))


def test_predictor_matches_keras(model, pixels):
    prediction = Predictor(model).predict_pixels(pixels)
    expected = model.predict(scale_pixels(pixels), verbose=0)
    np.testing.assert_allclose(prediction.probabilities, expected, atol=1e-5)
    assert prediction.labels.tolist() == expected.argmax(axis=1).tolist()


def test_load_checks_hash_then_loads_safely(model, pixels, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = Predictor.load(path, file_sha256(path))
    np.testing.assert_allclose(
        loaded.predict_pixels(pixels).probabilities,
        Predictor(model).predict_pixels(pixels).probabilities,
        atol=1e-6,
    )


def test_tampered_file_is_refused(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    digest = file_sha256(path)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="differs from the registered"):
        Predictor.load(path, digest)


def test_only_native_keras_format(model, tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"not loaded")
    with pytest.raises(ArtifactIntegrityError, match="only the native .keras format"):
        Predictor.load(path)


def test_latency_profile_is_ordered(model):
    profile = measure_latency(Predictor(model), scale_pixels(np.zeros((3, 64))), samples=30)
    assert 0 < profile.p50 <= profile.p95 <= profile.p99
    assert profile.samples == 30


def test_load_refuses_code_inside_the_archive_in_safe_mode(tmp_path):
    # A Lambda layer stores Python bytecode in the archive: only safe_mode=False would run it.
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Lambda(lambda x: x * 2.0)(inputs))
    )
    path = tmp_path / "model.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        Predictor.load(path, file_sha256(path))
