"""The built-in face_projection trainer: two reported steps, the threshold fitted on validation
identities only, the data file and the verifier file a trainer process shares with the asset."""

import subprocess
import sys

import numpy as np
import pytest

from mlops_assets.contracts.trainer import VERIFIER_FILE, Progress, TrainerOutputError, parse_line
from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml.face_training import (
    TOTAL_STEPS,
    FaceTrainSettings,
    check_verifier_file,
    find_verifier_file,
    read_face_training_data,
    train_face_projection,
    write_face_training_data,
)
from mlops_assets.ml.face_verifier import FaceVerifier

TARGET_FAR = 0.01


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vectors, identities = synthetic_face_vectors(80, 5, seed=21)
    helpers = np.array([f"helper-{i}" for i in identities], dtype=object)
    return vectors, helpers, identities >= 60


def test_training_reports_two_steps_and_validation_figures(data):
    steps = []
    result = train_face_projection(
        *data, TARGET_FAR, FaceTrainSettings(components=16), lambda s, m: steps.append((s, m))
    )
    assert [s for s, _ in steps] == list(range(1, TOTAL_STEPS + 1)) and result.steps_run == 2
    assert steps[0][1] == {"fit_identities": 60, "components": 16}
    metrics = steps[1][1]
    assert metrics == result.metrics and metrics["threshold"] == result.verifier.threshold
    assert metrics["val_genuine_pairs"] == 20 * 10 and metrics["val_far"] <= TARGET_FAR
    assert 0.5 < metrics["val_tar_at_far"] <= 1 and 0 <= metrics["val_eer"] < 0.5
    assert result.verifier.target_far == TARGET_FAR and result.seconds > 0


def test_the_projection_never_sees_the_validation_identities(data, monkeypatch):
    seen = {}
    from mlops_assets.ml import face_training

    real = face_training.fit_projection

    def recording(vectors, identities, components):
        seen["fit"] = set(identities.tolist())
        return real(vectors, identities, components)

    monkeypatch.setattr(face_training, "fit_projection", recording)
    vectors, helpers, validation = data
    train_face_projection(vectors, helpers, validation, TARGET_FAR)
    assert seen["fit"] == set(helpers[~validation].tolist())


def test_an_identity_on_both_sides_is_refused(data):
    vectors, helpers, validation = data
    leaking = validation.copy()
    leaking[0] = True  # one row of a training identity in validation
    with pytest.raises(ValueError, match="1 identities are in training and validation"):
        train_face_projection(vectors, helpers, leaking, TARGET_FAR)


def test_the_data_file_carries_codes_not_helper_ids(data, tmp_path):
    vectors, helpers, validation = data
    path = write_face_training_data(tmp_path / "train.npz", vectors, helpers, validation, 1e-3)
    x, y, mask, far = read_face_training_data(path)
    assert np.array_equal(x, vectors) and np.array_equal(mask, validation) and far == 1e-3
    assert y.dtype == np.int64 and len(np.unique(y)) == 80
    # Same identity, same code: the groups survive.
    assert all(len(set(y[helpers == h])) == 1 for h in np.unique(helpers))


@pytest.fixture(scope="module")
def trained(data) -> FaceVerifier:
    return train_face_projection(*data, TARGET_FAR, FaceTrainSettings(components=16)).verifier


def test_a_trainers_verifier_file_is_found_loaded_and_smoke_tested(data, trained, tmp_path):
    trained.save(tmp_path / VERIFIER_FILE)
    produced = check_verifier_file(find_verifier_file(tmp_path), data[0][:8], TARGET_FAR)
    assert produced.verifier.threshold == trained.threshold and len(produced.sha256) == 64


def test_a_missing_or_doubled_verifier_file_is_named(trained, tmp_path):
    (tmp_path / "weights.h5").write_bytes(b"x")
    with pytest.raises(TrainerOutputError, match=r"wrote 0 face_verifier.npz .*weights\.h5"):
        find_verifier_file(tmp_path)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        trained.save(tmp_path / folder / VERIFIER_FILE)
    with pytest.raises(TrainerOutputError, match="wrote 2"):
        find_verifier_file(tmp_path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"target_far": 0.1}, "fitted for FAR 0.1, not the asked 0.01"),
        ({"threshold": 1.5}, "does not match a vector with itself"),
        ({"mean": np.zeros(7), "projection": np.zeros((7, 2))}, "not a usable face verifier"),
    ],
)
def test_an_unusable_verifier_file_is_refused(data, trained, tmp_path, change, reason):
    fields = {
        "mean": trained.mean,
        "projection": trained.projection,
        "threshold": trained.threshold,
        "target_far": trained.target_far,
    }
    FaceVerifier(**{**fields, **change}).save(tmp_path / VERIFIER_FILE)
    with pytest.raises(TrainerOutputError, match=reason):
        check_verifier_file(tmp_path / VERIFIER_FILE, data[0][:8], TARGET_FAR)


def test_run_by_hand_the_trainer_process_prints_progress_and_writes_a_verifier(data, tmp_path):
    vectors, helpers, validation = data
    path = write_face_training_data(tmp_path / "train.npz", vectors, helpers, validation, 0.01)
    done = subprocess.run(
        [sys.executable, "-m", "mlops_assets.ml.face_trainer", "--train-data", str(path),
         "--output-dir", str(tmp_path / "out"), "--epochs", "40", "--seed", "1",
         "--components", "8"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    progress = [p for p in map(parse_line, done.stdout.splitlines()) if isinstance(p, Progress)]
    assert [(p.epoch, p.total_epochs) for p in progress] == [(1, 2), (2, 2)]
    assert "val_tar_at_far" in progress[1].metrics
    produced = check_verifier_file(tmp_path / "out" / VERIFIER_FILE, vectors[:4], 0.01)
    assert produced.verifier.projection.shape == (128, 8)
