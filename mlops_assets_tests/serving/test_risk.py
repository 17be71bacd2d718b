"""The confirmation-risk model served beside the upstream models: its predict route answers
risk probabilities and labels with the version, refuses bad feature values with 422s, and
`GET /models` lists it."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.ml.face_training import file_sha256
from mlops_assets.ml.risk_data import RISK_FEATURES
from mlops_assets.ml.risk_model import RiskModel, train_risk_logistic
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.model_kinds import SmokeTestError, load_risk, risk_smoke_test
from mlops_assets_tests.support.risk import synthetic_rows
from mlops_assets_tests.support.serving import FolderSource, tiny_verifier

PREDICT = "/models/confirmation_risk/predict"
SAFE = {
    "confirmed_label_probability": 0.95,
    "max_probability": 0.95,
    "entropy": 0.2,
    "face_score": 0.8,
}
IMPOSTOR = {**SAFE, "face_score": 0.02}


def risk_model(seed: int = 0) -> RiskModel:
    x, y = synthetic_rows(seed=seed)
    return train_risk_logistic(x, y).model


@pytest.fixture
def client(tmp_path, source):
    faces = FolderSource(tmp_path / "faces", name="face-verifier")
    faces.add("1", tiny_verifier(1))
    risks = FolderSource(tmp_path / "risk", name="confirmation-risk")
    risks.add("1", risk_model())
    source.alias = faces.alias = risks.alias = "1"
    app = create_app(
        ServingSettings(poll_interval_s=0, record_predictions=False),
        sources={"task_photos": source, "face_verifier": faces, "confirmation_risk": risks},
        fleet=load_fleet(),
    )
    with TestClient(app) as client:
        yield client


def test_models_lists_the_risk_model_with_its_predict_route(client):
    models = {m["name"]: m for m in client.get("/models").json()["models"]}
    risk = models["confirmation_risk"]
    assert risk["request_route"] == PREDICT
    assert (risk["registered_model"], risk["model_version"], risk["ready"]) == (
        "confirmation-risk",
        "1",
        True,
    )


def test_predict_scores_each_confirmation_with_the_version(client):
    response = client.post(PREDICT, json={"confirmations": [SAFE, IMPOSTOR]})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == "1"
    body = response.json()
    assert (body["model_name"], body["model_version"]) == ("confirmation-risk", "1")
    safe, impostor = body["predictions"]
    assert safe["risky"] is False and impostor["risky"] is True
    assert 0 <= safe["risk_probability"] < impostor["risk_probability"] <= 1
    expected = risk_model().probabilities(
        np.array([[SAFE[f] for f in RISK_FEATURES], [IMPOSTOR[f] for f in RISK_FEATURES]])
    )
    assert [p["risk_probability"] for p in body["predictions"]] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("confirmation", "field", "reason"),
    [
        ({**SAFE, "face_score": 1.5}, "face_score", "less than or equal to 1"),
        ({**SAFE, "confirmed_label_probability": -0.1}, "confirmed_label_probability", "greater"),
        ({k: v for k, v in SAFE.items() if k != "entropy"}, "entropy", "Field required"),
        ({**SAFE, "face_score": "high"}, "face_score", "valid number"),
        ({**SAFE, "photo": 1}, "photo", "Extra inputs are not permitted"),
    ],
)
def test_bad_feature_values_get_a_422_with_the_reason(client, confirmation, field, reason):
    response = client.post(PREDICT, json={"confirmations": [confirmation]})
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(p["loc"][-1] == field and reason in p["msg"] for p in problems), problems


def test_no_confirmations_is_a_422(client):
    assert client.post(PREDICT, json={"confirmations": []}).status_code == 422


def test_the_verify_route_of_the_risk_model_is_a_404_pointing_to_predict(client):
    response = client.post("/models/confirmation_risk/verify", json={})
    assert response.status_code == 404
    assert "send requests to POST /models/confirmation_risk/predict" in response.json()["detail"]


def test_an_unknown_model_is_a_404_naming_the_risk_model(client):
    response = client.post("/models/confirmation_riks/predict", json={})
    assert response.status_code == 404
    assert f"confirmation_risk ({PREDICT})" in response.json()["detail"]


def test_the_loader_checks_the_hash_and_smoke_tests(tmp_path):
    path = tmp_path / "risk.npz"
    risk_model().save(path)
    assert isinstance(load_risk(path, file_sha256(path)), RiskModel)
    with pytest.raises(ValueError, match="differs from the registered"):
        load_risk(path, "0" * 64)
    broken = RiskModel(np.zeros(3), np.ones(3), np.zeros(3), 0.0)
    with pytest.raises(SmokeTestError):
        risk_smoke_test(broken)


_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)
_confirmation = st.one_of(
    st.fixed_dictionaries({name: _values for name in RISK_FEATURES}),
    st.dictionaries(st.text(max_size=8), _values, max_size=5),
    _values,
)
_bodies = st.one_of(
    st.fixed_dictionaries({"confirmations": st.lists(_confirmation, max_size=4)}),
    st.dictionaries(st.text(max_size=8), _values, max_size=3),
    st.lists(_values, max_size=3),
    _values,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_bodies)
def test_no_generated_body_gets_a_server_error(client, body):
    # Sent as a client may: NaN and Infinity as JSON's non-standard literals.
    raw = json.dumps(body)
    response = client.post(PREDICT, content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"]
    else:
        assert len(response.json()["predictions"]) == len(body["confirmations"])
