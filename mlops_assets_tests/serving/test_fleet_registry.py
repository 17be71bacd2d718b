"""The fleet served from a real MLflow registry (embedded SQLite): a photo classifier logged as
`trained_model` logs it and a face verifier logged through its MLflow model contract, both
registered with their sha256 and signature; each `@champion` is hot-swapped on its own."""

import uuid
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlops_assets.backends import factory
from mlops_assets.backends.model_signing import SIGNATURE_TAG
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets.settings import Settings
from mlops_assets_tests.support.serving import (
    log_and_register,
    register_verifier,
    two_model_fleet_text,
)

TOKEN = "fleet-registry-token"
PHOTO = [float(i % 17) for i in range(64)]
PAIR = synthetic_face_vectors(1, 2, seed=11)[0].tolist()


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """Two registered models with two versions each, v1 the champion of both, and a server."""
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(
        home=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=None
    )
    photos = factory.registry(settings.model_copy(update={"model_name": f"photos-{suffix}"}))
    faces = factory.registry(settings.model_copy(update={"model_name": f"faces-{suffix}"}))
    for seed in (1, 2):
        log_and_register(settings, photos, seed)
        register_verifier(settings, faces, seed)
    photos.promote("1", "first champion")
    faces.promote("1", "first champion")
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        two_model_fleet_text()
        .replace("task-photo-classifier", photos.model_name)
        .replace("face-verifier", faces.model_name)
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    serving = ServingSettings(
        home=tmp_path,
        tracking_uri=settings.resolved_tracking_uri,
        models_file=fleet_file,
        poll_interval_s=0,
        push=False,
        record_predictions=False,
        serving_admin_token=TOKEN,
    )
    with TestClient(create_app(serving), headers={"X-Admin-Token": TOKEN}) as client:
        yield client, photos, faces, settings


def versions(client) -> dict[str, str]:
    return {m["name"]: m["model_version"] for m in client.get("/models").json()["models"]}


def test_each_champion_is_served_and_hot_swapped_on_its_own(fleet):
    client, photos, faces, _ = fleet
    assert versions(client) == {"task_photos": "1", "face_verifier": "1"}
    first = client.post("/models/face_verifier/verify", json={"first": PAIR[0], "second": PAIR[1]})
    assert first.status_code == 200 and first.json()["model_name"] == faces.model_name

    faces.promote("2", "face verifier v2 passed its gates")
    report = client.post("/models/face_verifier/admin/reload").json()
    assert (report["status"], report["serving_version"]) == ("swapped", "2")
    assert versions(client) == {"task_photos": "1", "face_verifier": "2"}
    second = client.post("/models/face_verifier/verify", json={"first": PAIR[0], "second": PAIR[1]})
    assert second.json()["model_version"] == "2"
    assert second.json()["score"] != pytest.approx(first.json()["score"], abs=1e-9)

    photos.promote("2", "photo classifier v2 passed its gates")
    assert client.post("/admin/reload").json()["serving_version"] == "2"
    assert versions(client) == {"task_photos": "2", "face_verifier": "2"}
    assert client.post("/predict", json={"instances": [PHOTO]}).json()["model_version"] == "2"
    assert client.get("/models/face_verifier").json()["swaps"] == 2


def test_a_verifier_without_the_pipelines_signature_is_refused(fleet):
    client, _, faces, settings = fleet
    unsigned = RegistryClient(faces.tracking_uri, faces.model_name)
    version = register_verifier(settings, unsigned, seed=3)
    faces.promote(version, "attacker")
    response = client.post("/models/face_verifier/admin/reload")
    assert response.status_code == 500
    assert f"carries no {SIGNATURE_TAG}" in response.json()["error"]
    assert versions(client) == {"task_photos": "1", "face_verifier": "1"}


def test_a_verifier_whose_stored_file_changed_is_refused(fleet):
    client, _, faces, _ = fleet
    uri = faces.client().get_model_version_download_uri(faces.model_name, "2")
    (stored,) = Path(urlparse(uri).path).rglob("face_verifier.npz")
    np.savez(stored, tampered=np.zeros(3))
    faces.promote("2", "test: tampered")
    response = client.post("/models/face_verifier/admin/reload")
    assert response.status_code == 500
    assert "differs from the registered" in response.json()["error"]
    verified = client.post(
        "/models/face_verifier/verify", json={"first": PAIR[0], "second": PAIR[1]}
    )
    assert verified.json()["model_version"] == "1"
