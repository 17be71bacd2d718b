"""What a trainer hands back is checked before registration: one `.keras` file that loads in
safe mode and answers one probability per label."""

import keras
import numpy as np
import pytest

from mlops_assets.contracts.trainer import TrainerOutputError
from mlops_assets.ml.predictor import file_sha256
from mlops_assets.ml.trainer_files import (
    check_model_file,
    find_model_file,
    read_training_data,
    write_training_data,
)
from mlops_assets_tests.support.serving import tiny_model

SAMPLE = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)


def test_the_data_file_round_trips_model_ready_arrays(tmp_path):
    x, y = SAMPLE, np.arange(5)
    path = write_training_data(tmp_path / "train.npz", x, y)
    x2, y2 = read_training_data(path)
    assert x2.dtype == np.float32 and x2.shape == (5, 8, 8, 1) and list(y2) == [0, 1, 2, 3, 4]


def test_exactly_one_keras_file_is_expected(tmp_path):
    (tmp_path / "weights.h5").write_bytes(b"h5")
    with pytest.raises(TrainerOutputError, match=r"no \.keras model .*weights\.h5"):
        find_model_file(tmp_path)
    (tmp_path / "a").mkdir()
    for name in ("a/model.keras", "b.keras"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(TrainerOutputError, match="2 .keras files"):
        find_model_file(tmp_path)
    (tmp_path / "b.keras").unlink()
    assert find_model_file(tmp_path) == tmp_path / "a" / "model.keras"


def test_a_working_model_passes_with_its_hash(tmp_path):
    path = tmp_path / "model.keras"
    tiny_model(1).save(path)
    produced = check_model_file(path, SAMPLE)
    assert produced.sha256 == file_sha256(path) and produced.model.count_params() > 0


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"not a zip file")
    with pytest.raises(TrainerOutputError, match="does not load as a Keras model"):
        check_model_file(path, SAMPLE)


def test_a_model_that_does_not_answer_probabilities_per_label_is_refused(tmp_path):
    regression = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(3)])  # fmt: skip
    regression.save(tmp_path / "three.keras")
    with pytest.raises(TrainerOutputError, match=r"expected \(5, 10\)"):
        check_model_file(tmp_path / "three.keras", SAMPLE)
    logits = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(10)])  # fmt: skip
    logits.save(tmp_path / "logits.keras")
    with pytest.raises(TrainerOutputError, match="end the model with a softmax"):
        check_model_file(tmp_path / "logits.keras", SAMPLE)
