"""One server for the fleet: a photo classifier and a face verifier side by side, each with its
own routes, readiness, reload, metrics and prediction log (FastAPI's TestClient)."""

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets_tests.support.serving import (
    FolderSource,
    tiny_verifier,
    two_model_fleet,
    two_model_fleet_text,
)

PHOTO = [float(i % 17) for i in range(64)]
TOKEN = "fleet-admin-token"
VERIFY = "/models/face_verifier/verify"


def unit(vector) -> list[float]:
    vector = np.asarray(vector, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).tolist()


# Two captures each of two synthetic identities (never seen in training).
_VECTORS, _IDENTITY = synthetic_face_vectors(2, 2, seed=999)
SAME = (_VECTORS[0].tolist(), _VECTORS[1].tolist())
OTHER = (_VECTORS[0].tolist(), _VECTORS[2].tolist())


class Sinks(dict):
    """Recorded rows per model, written straight through."""

    def sink(self, model: str):
        self[model] = []
        return self[model].append


@pytest.fixture
def faces(tmp_path):
    faces = FolderSource(tmp_path / "faces", name="face-verifier")
    faces.add("1", tiny_verifier(1))
    faces.add("2", tiny_verifier(2))
    return faces


@pytest.fixture
def fleet_app(source, faces):
    """Builds a two-model app; the test sets the aliases first."""

    def build(**overrides):
        settings = ServingSettings(
            poll_interval_s=0,
            max_batch=4,
            serving_admin_token=TOKEN,
            record_batch=1,
            record_flush_s=0.05,
            **overrides,
        )
        sinks = Sinks()
        app = create_app(
            settings,
            sources={"task_photos": source, "face_verifier": faces},
            prediction_sink={m: sinks.sink(m) for m in ("task_photos", "face_verifier")},
            fleet=two_model_fleet(),
        )
        app.state.sinks = sinks
        return TestClient(app, headers={"X-Admin-Token": TOKEN})

    return build


@pytest.fixture
def client(fleet_app, source, faces):
    source.alias, faces.alias = "1", "1"
    with fleet_app() as client:
        yield client


def verify(client, first, second, **extra):
    return client.post(VERIFY, json={"first": first, "second": second, **extra})


def test_models_lists_both_with_routes_and_versions(client):
    body = client.get("/models").json()
    assert body["default_model"] == "task_photos"
    assert {
        m["name"]: (m["task"], m["request_route"], m["model_version"]) for m in body["models"]
    } == {
        "task_photos": ("classification", "/models/task_photos/predict", "1"),
        "face_verifier": ("verification", "/models/face_verifier/verify", "1"),
    }


def test_predict_answers_on_both_routes_with_one_version(client):
    legacy = client.post("/predict", json={"instances": [PHOTO]}).json()
    routed = client.post("/models/task_photos/predict", json={"instances": [PHOTO]}).json()
    assert legacy == routed and legacy["model_version"] == "1"


def test_verify_scores_a_pair_and_matches_at_the_threshold(client, faces):
    same, other = verify(client, *SAME), verify(client, *OTHER)
    assert same.status_code == other.status_code == 200
    assert same.headers["X-Model-Version"] == "1"
    body = same.json()
    assert body["threshold"] == pytest.approx(tiny_verifier(1).threshold)
    assert (body["model_name"], body["model_version"]) == ("face-verifier", "1")
    assert body["match"] is True and body["score"] > other.json()["score"]
    assert other.json()["match"] is False
    assert body["score"] == pytest.approx(tiny_verifier(1).verify(*map(np.array, SAME)).score)


def test_an_unknown_model_gets_a_404_naming_the_served_ones(client):
    response = client.post("/models/face_detector/verify", json={})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "no model 'face_detector'" in detail
    assert "task_photos (/models/task_photos/predict)" in detail
    assert "face_verifier (/models/face_verifier/verify)" in detail


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/models/face_verifier/predict", "verification model: send requests to POST " + VERIFY),
        (
            "/models/task_photos/verify",
            "classification model: send requests to POST /models/task_photos/predict",
        ),
    ],
)
def test_the_wrong_route_of_a_model_says_which_one_to_use(client, path, expected):
    response = client.post(path, json={"instances": [PHOTO]})
    assert response.status_code == 404
    assert expected in response.json()["detail"]


def problems(response) -> list[tuple[list, str, str]]:
    assert response.status_code == 422, response.text
    return [(p["loc"], p["type"], p["msg"]) for p in response.json()["detail"]]


ZERO = [0.0] * 128
LONG = [1.0] + [0.0] * 128


@pytest.mark.parametrize(
    ("first", "expected_type", "expected_msg"),
    [
        (LONG, "face_vector_dimension", "wrong dimension: 129 values where a face vector has 128"),
        (LONG[:10], "face_vector_dimension", "wrong dimension: 10 values"),
        (ZERO, "face_vector", "a zero vector (no direction to compare)"),
        ([2.0] + ZERO[1:], "face_vector", "not L2-normalised: its norm is 2"),
        (["0.5"] + ZERO[1:], "float_type", "Input should be a valid number"),
    ],
    ids=["too-long", "too-short", "zero", "not-normalised", "text"],
)
def test_bad_vectors_get_a_422_with_the_reason(client, first, expected_type, expected_msg):
    [(loc, kind, message)] = problems(verify(client, first, SAME[1]))
    assert loc[:2] == ["body", "first"] and kind == expected_type
    assert message.startswith(expected_msg)


def test_non_finite_values_and_a_missing_vector_get_a_422(client):
    nan = json.dumps({"first": [float("nan")] + SAME[0][1:], "second": SAME[1]})
    response = client.post(VERIFY, content=nan, headers={"content-type": "application/json"})
    [(loc, kind, message)] = problems(response)
    assert (loc, kind) == (["body", "first"], "face_vector")
    assert message == "a non-finite value nan at position 0"
    assert problems(client.post(VERIFY, json={"first": SAME[0]})) == [
        (["body", "second"], "missing", "Field required")
    ]


def test_an_oversized_verify_body_gets_a_413(client):
    response = client.post(VERIFY, json={"first": [0.1] * 100_000, "second": SAME[1]})
    assert response.status_code == 413


def test_each_model_hot_swaps_alone(client, source, faces):
    faces.alias = "2"
    report = client.post("/models/face_verifier/admin/reload", params={"reason": "v2"}).json()
    assert (report["status"], report["serving_version"]) == ("swapped", "2")
    assert verify(client, *SAME).json()["model_version"] == "2"
    photos = client.get("/models/task_photos").json()
    assert (photos["model"]["version"], photos["swaps"]) == ("1", 1)
    source.alias = "2"
    assert client.post("/admin/reload").json()["serving_version"] == "2"
    assert client.post("/predict", json={"instances": [PHOTO]}).json()["model_version"] == "2"
    status = client.get("/models/face_verifier").json()
    assert (status["fleet_model"], status["task"]) == ("face_verifier", "verification")
    assert (status["model"]["version"], status["swaps"], status["standby_version"]) == ("2", 2, "1")
    assert status["alias"] == "face-verifier@champion"


def test_a_tampered_verifier_is_refused_and_the_old_version_keeps_verifying(client, faces):
    faces.files["2"].write_bytes(faces.files["2"].read_bytes() + b"x")
    faces.alias = "2"
    response = client.post("/models/face_verifier/admin/reload")
    assert response.status_code == 500
    assert "differs from the registered" in response.json()["error"]
    assert verify(client, *SAME).json()["model_version"] == "1"


def test_a_model_without_a_champion_is_not_ready_while_the_other_serves(fleet_app, source):
    source.alias = "1"
    with fleet_app() as client:
        assert client.get("/ready").json() == {"ready": True, "model_version": "1"}
        assert client.get("/models/task_photos/ready").status_code == 200
        assert client.get("/models/face_verifier/ready").status_code == 503
        refused = verify(client, *SAME)
        assert refused.status_code == 503 and "Retry-After" in refused.headers
        assert "waiting for face-verifier@champion" in refused.json()["detail"]


def test_metrics_are_labelled_per_model(client):
    client.post("/predict", json={"instances": [PHOTO, PHOTO]})
    verify(client, *SAME)
    verify(client, *OTHER)
    verify(client, *OTHER)
    scraped = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
    }
    faces, photos = (("model", "face_verifier"),), (("model", "task_photos"),)
    assert scraped[("mlops_serving_model_version", faces)] == 1
    assert scraped[("mlops_serving_model_swaps_total", faces)] == 1
    assert scraped[("mlops_serving_reload_failures_total", photos)] == 0
    assert scraped[("mlops_serving_verifications_total", (("match", "true"), *faces))] == 1
    assert scraped[("mlops_serving_verifications_total", (("match", "false"), *faces))] == 2
    assert scraped[("mlops_serving_verify_score_count", faces)] == 3
    photo_counts = [
        v
        for (name, labels), v in scraped.items()
        if name == "mlops_serving_predictions_total" and dict(labels)["model"] == "task_photos"
    ]
    assert sum(photo_counts) == 2
    route = (("method", "POST"), ("route", VERIFY), ("status", "200"))
    assert scraped[("mlops_serving_request_duration_seconds_count", route)] == 3


def test_each_model_records_to_its_own_log_and_verify_rows_carry_the_score(
    fleet_app, source, faces
):
    source.alias, faces.alias = "1", "1"
    with fleet_app() as client:
        client.post("/predict", json={"instances": [PHOTO]})
        score = verify(client, *SAME, pair_id="pair-7").json()["score"]
        sinks = client.app.state.sinks
    [photo_rows] = sinks["task_photos"]
    assert photo_rows["label"].tolist() and "score" not in photo_rows
    [face_rows] = sinks["face_verifier"]
    assert face_rows[["model_version", "match", "pair_id"]].values.tolist() == [
        ["1", True, "pair-7"]
    ]
    assert face_rows["score"].iloc[0] == pytest.approx(score, abs=1e-6)
    assert "first" not in face_rows and len(face_rows.columns) == 6


def test_a_pair_id_needs_the_task_ids_token_when_one_is_set(fleet_app, source, faces):
    source.alias, faces.alias = "1", "1"
    with fleet_app(task_ids_token="tasks") as client:
        assert verify(client, *SAME, pair_id="p").status_code == 401
        answered = client.post(
            VERIFY,
            json={"first": SAME[0], "second": SAME[1], "pair_id": "p"},
            headers={"X-Task-Ids-Token": "tasks"},
        )
        assert answered.status_code == 200


def test_a_server_of_the_face_verifier_alone_says_where_predict_went(faces):
    faces.alias = "1"
    settings = ServingSettings(poll_interval_s=0, record_predictions=False)
    app = create_app(settings, sources={"face_verifier": faces}, fleet=two_model_fleet())
    with TestClient(app) as client:
        assert verify(client, *SAME).status_code == 200
        response = client.post("/predict", json={"instances": [PHOTO]})
        assert response.status_code == 404
        assert "answer for 'task_photos'" in response.json()["detail"]
        refused = client.post("/models/task_photos/predict", json={"instances": [PHOTO]})
        assert "declared in the fleet, not served here" in refused.json()["detail"]


def test_the_fleet_file_and_the_served_models_come_from_the_settings(tmp_path, faces):
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(two_model_fleet_text())
    faces.alias = "1"
    settings = ServingSettings(
        poll_interval_s=0, record_predictions=False, models_file=fleet_file, models="face_verifier"
    )
    with TestClient(create_app(settings, sources={"face_verifier": faces})) as client:
        assert [m["name"] for m in client.get("/models").json()["models"]] == ["face_verifier"]
    with pytest.raises(ValueError, match=r"'face_detector', not in the fleet file .*fleet.yaml"):
        create_app(settings.model_copy(update={"models": "face_detector"}))


def test_openapi_documents_every_model_route(client):
    schema = client.get("/openapi.json").json()
    assert {
        "/predict",
        "/models",
        "/models/task_photos/predict",
        "/models/face_verifier/verify",
        "/models/face_verifier/ready",
        "/models/face_verifier",
        "/models/face_verifier/admin/reload",
    } <= set(schema["paths"])
    request = schema["components"]["schemas"]["VerifyRequest"]["properties"]["first"]
    assert (request["minItems"], request["maxItems"]) == (128, 128)
    assert not any("{rest" in path for path in schema["paths"])


def test_a_pushed_event_wakes_only_the_model_it_names(source, faces):
    """The subscribe hook gets each served model's wake-up by registered model name."""
    source.alias, faces.alias = "1", "1"
    hooked = {}

    def subscribe(notifiers):
        hooked.update(notifiers)
        return lambda: None

    settings = ServingSettings(poll_interval_s=0, record_predictions=False)
    app = create_app(
        settings,
        subscribe=subscribe,
        sources={"task_photos": source, "face_verifier": faces},
        fleet=two_model_fleet(),
    )
    with TestClient(app) as client:
        assert set(hooked) == {"task-photo-classifier", "face-verifier"}
        source.alias = faces.alias = "2"
        hooked["face-verifier"]("ModelPromoted v2")
        deadline = time.monotonic() + 30
        while client.get("/models/face_verifier/ready").json()["model_version"] != "2":
            assert time.monotonic() < deadline, "the pushed event did not reload the verifier"
            time.sleep(0.02)
        assert client.get("/ready").json()["model_version"] == "1"
        reason = client.get("/models/face_verifier").json()["last_reload"]["reason"]
        assert reason == "ModelPromoted v2"
