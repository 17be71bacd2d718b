"""The server's contract is the documented one: Schemathesis generates requests from
`/openapi.json` (valid and invalid ones) against a real uvicorn server serving a registered
model, and checks that none gets a 5xx and that every answer conforms to the schema."""

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mlops_assets.backends import factory
from mlops_assets.settings import Settings
from mlops_assets_tests.support.serving import (
    log_and_register,
    register_verifier,
    running_server,
    two_model_fleet_text,
)

pytestmark = pytest.mark.integration

# not_a_server_error: no 5xx; status_code / content_type / response_schema conformance: every
# answer is one the schema declares; negative_data_rejection: what the schema forbids is refused.
# Not positive_data_acceptance: `task_ids` must have one entry per photo, a rule between two
# fields that OpenAPI cannot state, so a schema-valid body with another count gets the declared
# 422 that names both counts.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
MAX_EXAMPLES = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("api-contract") / "var"
    home.mkdir()
    settings = Settings(
        home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", artifact_location=None
    )
    registry = factory.registry(settings)
    version, _ = log_and_register(settings, registry, seed=1)
    registry.promote(version, "the model under contract test")
    # The face verifier beside it, so its verify route is generated against a loaded model.
    fleet_file = home / "fleet.yaml"
    fleet_file.write_text(two_model_fleet_text())
    faces = factory.registry(settings.model_copy(update={"model_name": "face-verifier"}))
    faces.promote(register_verifier(settings, faces, seed=1), "the verifier under contract test")
    env = {
        "MLOPS_MODELS_FILE": str(fleet_file),
        "MLOPS_HOME": str(home),
        "MLFLOW_TRACKING_URI": settings.resolved_tracking_uri,
        "MLOPS_SERVING_PUSH": "false",
        "MLOPS_SERVING_POLL_INTERVAL_S": "0",
        "MLOPS_SERVING_MAX_BATCH": "8",
        "MLOPS_SERVING_MAX_BODY_BYTES": "65536",
    }
    # Two models to load before the first answer on a shared machine.
    with running_server(env, home / "server.log", startup_s=300) as url:
        assert httpx.get(f"{url}/ready", timeout=30).json()["model_version"] == version
        assert httpx.get(f"{url}/models/face_verifier/ready", timeout=30).status_code == 200
        yield url


def test_schemathesis_finds_no_server_error_and_no_schema_violation(server, tmp_path):
    report = tmp_path / "schemathesis.json"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{server}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "10",
            "--workers",
            "2",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # Schemathesis keeps a cache folder in its working directory
    )
    # The run's figures (shown with `pytest -rP`): cases generated, failures by check.
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    cases = json.loads(report.read_text())["test_cases"]
    print(f"schemathesis: {cases}")
    assert cases["generated"] > 0 and cases["with_failures"] == cases["errored"] == 0
