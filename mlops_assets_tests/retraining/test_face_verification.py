"""The face verifier's verification stage on a real embedded MLflow: registered versions scored
on one identity-disjoint holdout, the report built from them, a changed file refused."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from mlops_assets.backends.face_logged_model import (
    VERIFIER_FILE,
    VerifierIntegrityError,
    log_face_verifier,
)
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.gate_spec import METRICS
from mlops_assets.contracts.stage_results import GateResult
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.ml.face_data import FACE_COLUMNS, face_arrays, face_snapshot
from mlops_assets.ml.face_training import FaceTrainSettings, train_face_projection
from mlops_assets.retraining.face_verification import (
    face_report,
    holdout_metrics,
    score_face_version,
)

SCENARIO = FaceScenario(identities_per_month=30, vectors_per_identity=6)


@pytest.fixture(scope="module")
def snapshot():
    frame = pd.DataFrame(
        [
            {name: getattr(event, name) for name in FACE_COLUMNS}
            for month in range(1, 4)
            for event in month_face_events(SCENARIO, month)
        ]
    )
    end = pd.Timestamp(SCENARIO.calendar.month_start(4))
    return face_snapshot(frame, "2024-03-01", end, pd.Timestamp("2030-01-01", tz="UTC"))


@pytest.fixture
def registry(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield RegistryClient(uri, "face-verifier")
    mlflow.set_tracking_uri(None)


def register(registry, snapshot, components: int, tmp_path) -> object:
    train, validation = face_arrays(snapshot.train), face_arrays(snapshot.validation)
    mask = np.r_[np.zeros(len(train[1]), bool), np.ones(len(validation[1]), bool)]
    verifier = train_face_projection(
        np.r_[train[0], validation[0]],
        np.r_[train[1], validation[1]],
        mask,
        1e-3,
        FaceTrainSettings(components=components),
    ).verifier
    name = f"face-{components}"
    experiment = mlflow.create_experiment(name, artifact_location=(tmp_path / name).as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        model_uri, sha256 = log_face_verifier(verifier, train[0])
    return registry.register(model_uri, run.info.run_id, sha256)


def test_champion_and_challenger_are_scored_on_the_same_pairs_and_reported(
    registry, snapshot, tmp_path
):
    champion = register(registry, snapshot, 4, tmp_path)
    challenger = register(registry, snapshot, 32, tmp_path)
    old = score_face_version(registry, champion, snapshot, latency_samples=10)
    new = score_face_version(registry, challenger, snapshot, latency_samples=10)
    assert (old.version, new.version) == ("1", "2") and new.run_id == challenger.run_id
    assert (old.genuine_pairs, old.impostor_pairs) == (new.genuine_pairs, new.impostor_pairs)
    assert new.eer < old.eer  # 32 directions separate identities better than 4
    verification = {m for m, (task, _) in METRICS.items() if task == "verification"}
    assert verification <= set(new.metrics)

    gates = [GateResult(name="tar_at_far_above_minimum", passed=True, observed=new.tar_at_far)]
    report = face_report(snapshot, new, old, gates, "promoted", 0.0)
    assert report.holdout_identities == snapshot.counts()["holdout_identities"]
    assert report.holdout_rows == len(snapshot.holdout) and report.champion == old
    assert holdout_metrics(new)["holdout_tar_at_far"] == new.tar_at_far


def test_a_version_whose_file_changed_in_the_store_is_refused(registry, snapshot, tmp_path):
    version = register(registry, snapshot, 8, tmp_path)
    (stored,) = (tmp_path / "face-8").rglob(VERIFIER_FILE)
    changed = bytearray(stored.read_bytes())
    changed[len(changed) // 2] ^= 0xFF
    stored.write_bytes(bytes(changed))
    with pytest.raises(VerifierIntegrityError, match="changed after registration"):
        score_face_version(registry, version, snapshot, latency_samples=5)
