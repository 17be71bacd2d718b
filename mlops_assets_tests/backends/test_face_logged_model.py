"""The face verifier's MLflow contract on a real embedded MLflow (SQLite): logged as a pyfunc with
signature and input example, registered as its own model with the photo models' hash and
signature, downloaded and loaded back; a changed file is refused."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_assets.backends.face_logged_model import (
    VERIFIER_FILE,
    VerifierIntegrityError,
    face_dataset,
    load_face_verifier,
    log_face_verifier,
)
from mlops_assets.backends.model_signing import ModelSigner, SignatureError, key_file
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml.face_verifier import FaceVerifier, train_face_verifier

REGISTRY_NAME = load_fleet().model("face_verifier").registry_name


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    vectors, identities = synthetic_face_vectors(60, 5, seed=2)
    return train_face_verifier(vectors, identities, target_far=0.01, components=16)


@pytest.fixture
def vectors() -> np.ndarray:
    return synthetic_face_vectors(4, 2, seed=5)[0]


@pytest.fixture
def tracking(tmp_path) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


@pytest.fixture
def registry(tracking, tmp_path) -> RegistryClient:
    return RegistryClient(tracking, REGISTRY_NAME, signer=ModelSigner(None, key_file(tmp_path)))


def log_and_register(registry: RegistryClient, verifier, vectors, tmp_path, name="face"):
    experiment = mlflow.create_experiment(name, artifact_location=(tmp_path / name).as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        model_uri, sha256 = log_face_verifier(verifier, vectors)
    return registry.register(model_uri, run.info.run_id, sha256), model_uri


def test_a_registered_verifier_downloads_and_loads_as_it_was_trained(
    registry, verifier, vectors, tmp_path
):
    registered, model_uri = log_and_register(registry, verifier, vectors, tmp_path)
    assert (registered.name, registered.version) == ("face-verifier", "1")
    assert registry.by_alias("challenger").version == "1" and registry.champion() is None
    registry.signer.verify(
        registered.sha256, registered.name, registered.version, registered.signature
    )

    folder = registry.download_version_folder(registered.version, tmp_path / "download")
    loaded = load_face_verifier(folder, registered.sha256)
    assert loaded.threshold == verifier.threshold
    assert loaded.verify(vectors[0], vectors[1]) == verifier.verify(vectors[0], vectors[1])

    registry.promote(registered.version, "first verifier", month="2024-01-01")
    assert registry.champion().version == "1"
    model = mlflow.pyfunc.load_model(f"models:/{REGISTRY_NAME}@champion")
    answer = model.predict(np.stack([vectors[:4:2], vectors[1:4:2]], axis=1))
    assert list(answer.columns) == ["score", "match"]
    expected = verifier.verify(vectors[0], vectors[1])
    assert answer["score"][0] == pytest.approx(expected.score)
    assert bool(answer["match"][0]) == expected.match


def test_the_logged_model_carries_signature_example_and_pinned_requirements(
    registry, verifier, vectors, tmp_path
):
    registered, _ = log_and_register(registry, verifier, vectors, tmp_path)
    folder = registry.download_version_folder(registered.version, tmp_path / "download")
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert inputs == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2, 128]}}
    ]
    outputs = {c["name"]: c["type"] for c in json.loads(mlmodel["signature"]["outputs"])}
    assert outputs == {"score": "double", "match": "boolean"}
    example = json.loads((folder / "input_example.json").read_text())
    assert np.asarray(example).shape == (2, 2, 128)
    pins = dict(
        line.split("==")
        for line in (folder / "requirements.txt").read_text().split()
        if "==" in line
    )
    assert {"numpy", "pandas", "scikit-learn"} <= set(pins)
    assert all(version[0].isdigit() for version in pins.values())
    # No pickled model: the pyfunc is logged as code, the verifier as plain arrays.
    assert not list(folder.rglob("*.pkl"))
    assert len(list(folder.rglob(VERIFIER_FILE))) == 1


def test_a_changed_verifier_file_is_refused_before_it_is_read(
    registry, verifier, vectors, tmp_path
):
    registered, _ = log_and_register(registry, verifier, vectors, tmp_path)
    folder = registry.download_version_folder(registered.version, tmp_path / "download")
    (path,) = folder.rglob(VERIFIER_FILE)
    FaceVerifier(verifier.mean, verifier.projection, -1.0, verifier.target_far).save(path)
    with pytest.raises(VerifierIntegrityError, match="changed after registration"):
        load_face_verifier(folder, registered.sha256)


def test_a_changed_hash_tag_no_longer_verifies(registry, verifier, vectors, tmp_path):
    registered, _ = log_and_register(registry, verifier, vectors, tmp_path)
    with pytest.raises(SignatureError, match="does not match"):
        registry.signer.verify("0" * 64, registered.name, registered.version, registered.signature)


def test_a_folder_without_exactly_one_verifier_is_refused(verifier, tmp_path):
    with pytest.raises(VerifierIntegrityError, match="holds 0 face_verifier.npz"):
        load_face_verifier(tmp_path)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        verifier.save(tmp_path / folder / VERIFIER_FILE)
    with pytest.raises(VerifierIntegrityError, match="holds 2"):
        load_face_verifier(tmp_path)


def test_a_pair_that_is_not_two_vectors_is_refused_by_the_pyfunc(
    registry, verifier, vectors, tmp_path
):
    _, model_uri = log_and_register(registry, verifier, vectors, tmp_path)
    model = mlflow.pyfunc.load_model(model_uri)
    with pytest.raises(Exception, match="shape"):
        model.predict(np.zeros((2, 3, 128)))


def test_a_face_dataset_has_a_column_per_component_and_the_identity_as_target():
    vectors, identities = synthetic_face_vectors(3, 2, seed=1)
    frame = pd.DataFrame({"vector": list(vectors), "helper_id": [f"h{i}" for i in identities]})
    dataset = face_dataset(frame, "holdout-m-abc", None)
    assert dataset.name == "holdout-m-abc" and dataset.targets == "helper_id"
    assert dataset.df.shape == (6, 129) and list(dataset.df["helper_id"][:2]) == ["h0", "h0"]
