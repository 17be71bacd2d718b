"""The classifier: its hyperparameters are validated, its shape fixed, its training seeded."""

import warnings

import numpy as np
import pytest
from pydantic import ValidationError

from mlops_assets.ml.model import TrainSettings, build_model, train


@pytest.mark.parametrize(
    "bad", [{"epochs": 0}, {"dropout": 1.0}, {"validation_fraction": 0}, {"learning_rate": 0}]
)
def test_impossible_hyperparameters_are_refused(bad):
    with pytest.raises(ValidationError):
        TrainSettings(**bad)


def test_the_model_maps_a_photo_to_ten_probabilities():
    model = build_model(TrainSettings(filters=2, dense_units=4))
    probabilities = model(np.zeros((3, 8, 8, 1), np.float32)).numpy()
    assert probabilities.shape == (3, 10)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_training_reports_each_epoch_and_is_repeatable():
    rng = np.random.default_rng(0)
    x = rng.random((60, 8, 8, 1)).astype(np.float32)
    y = np.arange(60) % 10
    settings = TrainSettings(epochs=2, filters=2, dense_units=4, batch_size=16, patience=5)
    seen = []
    first = train(x, y, settings, on_epoch=lambda epoch, logs: seen.append((epoch, set(logs))))
    assert [epoch for epoch, _ in seen] == [1, 2] and "val_accuracy" in seen[0][1]
    assert first.epochs_run == 2
    second = train(x, y, settings)
    assert first.history["loss"] == second.history["loss"]


def test_training_warns_nothing():
    rng = np.random.default_rng(1)
    x = rng.random((40, 8, 8, 1)).astype(np.float32)
    y = np.arange(40) % 10
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(x, y, TrainSettings(epochs=1, filters=2, dense_units=4, batch_size=16))
    assert [str(w.message) for w in caught if "shuffle" in str(w.message)] == []
