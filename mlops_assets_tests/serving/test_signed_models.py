"""The registry is not the trust root: someone with MLflow write access but without the
pipeline's signing key cannot get the server to load their model."""

import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from mlops_assets.backends import factory
from mlops_assets.backends.model_signing import SIGNATURE_TAG
from mlops_assets.backends.registry import SHA256_TAG, RegistryClient
from mlops_assets.ml.predictor import file_sha256
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets.settings import Settings
from mlops_assets_tests.support.serving import log_and_register, tiny_model

TOKEN = "signing-test-token"


@pytest.fixture
def registry_and_server(tmp_path):
    name = f"signed-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        home=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", model_name=name
    )
    registry = factory.registry(settings)
    version, _ = log_and_register(settings, registry, seed=1)
    registry.promote(version, "first champion")
    serving = ServingSettings(
        home=tmp_path,
        tracking_uri=settings.resolved_tracking_uri,
        model_name=name,
        poll_interval_s=0,
        push=False,
        record_predictions=False,
        serving_admin_token=TOKEN,
    )
    with TestClient(create_app(serving), headers={"X-Admin-Token": TOKEN}) as client:
        assert client.get("/model").json()["model"]["version"] == version
        yield settings, registry, client


def stored_keras_file(registry: RegistryClient, version: str) -> Path:
    uri = registry.client().get_model_version_download_uri(registry.model_name, version)
    (path,) = Path(urlparse(uri).path).rglob("*.keras")
    return path


def test_a_version_registered_without_the_key_is_refused(registry_and_server):
    settings, registry, client = registry_and_server
    unsigned = RegistryClient(registry.tracking_uri, registry.model_name)
    version, _ = log_and_register(settings, unsigned, seed=2)
    registry.promote(version, "attacker")
    response = client.post("/admin/reload")
    assert response.status_code == 500
    assert f"carries no {SIGNATURE_TAG}" in response.json()["error"]
    assert client.get("/model").json()["model"]["version"] == "1"


def test_a_signature_copied_from_another_version_is_refused(registry_and_server):
    settings, registry, client = registry_and_server
    signed_v1 = registry.version("1").signature
    unsigned = RegistryClient(registry.tracking_uri, registry.model_name)
    version, _ = log_and_register(settings, unsigned, seed=2)
    registry.client().set_model_version_tag(registry.model_name, version, SIGNATURE_TAG, signed_v1)
    registry.promote(version, "attacker")
    response = client.post("/admin/reload")
    assert response.status_code == 500
    assert "does not match" in response.json()["error"]
    assert client.get("/model").json()["model"]["version"] == "1"


def test_a_replaced_artifact_with_a_rewritten_sha256_tag_is_refused(registry_and_server, tmp_path):
    """The attacker swaps the stored model file and sets artifact_sha256 to its hash."""
    _, registry, client = registry_and_server
    stored = stored_keras_file(registry, "1")
    tiny_model(seed=9).save(tmp_path / "attacker.keras")
    stored.write_bytes((tmp_path / "attacker.keras").read_bytes())
    registry.client().set_model_version_tag(
        registry.model_name, "1", SHA256_TAG, file_sha256(stored)
    )
    response = client.post("/admin/reload")
    assert response.status_code == 500
    assert "does not match" in response.json()["error"]
    assert client.get("/model").json()["model"]["sha256"] != file_sha256(stored)


def test_the_registered_hash_is_the_file_written_before_upload(registry_and_server):
    _, registry, _ = registry_and_server
    version = registry.version("1")
    assert version.sha256 == file_sha256(stored_keras_file(registry, "1"))
    assert version.signature is not None
