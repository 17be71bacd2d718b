"""The inference API through FastAPI's TestClient: validation, error bodies, reload, status."""

import ipaddress
import json
import logging
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings, check_admin_guard

PHOTO = [float(i % 17) for i in range(64)]
MAX_BATCH = 4
ADMIN_TOKEN = "test-admin-token"


def serving_settings(**overrides) -> ServingSettings:
    overrides.setdefault("serving_admin_token", ADMIN_TOKEN)
    return ServingSettings(poll_interval_s=0, max_batch=MAX_BATCH, max_body_bytes=4096, **overrides)


@pytest.fixture
def client(source):
    source.alias = "1"
    app = create_app(serving_settings(), source)
    with TestClient(app, headers={"X-Admin-Token": ADMIN_TOKEN}) as client:
        yield client


@pytest.fixture
def empty_client(source):
    with TestClient(create_app(serving_settings(), source)) as client:
        yield client


def test_predict_one_photo_names_the_model_version(client, source):
    response = client.post("/predict", json={"instances": [PHOTO]})
    assert response.status_code == 200
    body = response.json()
    assert (body["model_name"], body["model_version"]) == (source.name, "1")
    (prediction,) = body["predictions"]
    assert len(prediction["probabilities"]) == 10
    assert sum(prediction["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert prediction["label"] == int(np.argmax(prediction["probabilities"]))


def test_predict_a_batch_up_to_the_maximum(client):
    response = client.post("/predict", json={"instances": [PHOTO, [0] * 64, [16] * 64, PHOTO]})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == MAX_BATCH
    assert predictions[0] == predictions[3]


def problems(response, status: int = 422) -> list[tuple[list, str]]:
    assert response.status_code == status, response.text
    return [(p["loc"], p["type"]) for p in response.json()["detail"]]


@pytest.mark.parametrize(
    ("instances", "expected"),
    [
        ([PHOTO[:63]], [(["body", "instances", 0], "wrong_shape")]),
        ([PHOTO + [0]], [(["body", "instances", 0], "wrong_shape")]),
        (PHOTO, [(["body", "instances"], "wrong_shape")]),
        ([[PHOTO[:8]] * 8], [(["body", "instances", 0], "wrong_shape")]),
        ([PHOTO[:5] + [17] + PHOTO[6:]], [(["body", "instances", 0, 5], "less_than_equal")]),
        ([[-1] + PHOTO[1:]], [(["body", "instances", 0, 0], "greater_than_equal")]),
        ([["a"] + PHOTO[1:]], [(["body", "instances", 0, 0], "float_type")]),
        ([["3"] + PHOTO[1:]], [(["body", "instances", 0, 0], "float_type")]),
        ([[True] + PHOTO[1:]], [(["body", "instances", 0, 0], "float_type")]),
        ([[None] + PHOTO[1:]], [(["body", "instances", 0, 0], "float_type")]),
        ([], [(["body", "instances"], "too_short")]),
        ([PHOTO] * (MAX_BATCH + 1), [(["body", "instances"], "too_long")]),
    ],
    ids=[
        "63-values",
        "65-values",
        "flat-photo",
        "8x8-nested",
        "over-16",
        "negative",
        "text",
        "numeric-text",
        "boolean",
        "null",
        "empty-batch",
        "batch-over-max",
    ],
)
def test_bad_input_gets_a_422_naming_the_problem(client, instances, expected):
    assert problems(client.post("/predict", json={"instances": instances})) == expected


def test_422_messages_say_what_is_wrong(client):
    shape = client.post("/predict", json={"instances": [PHOTO[:3]]}).json()["detail"][0]
    assert shape["msg"] == "a photo is 64 grey levels (8x8, row by row), got 3"
    batch = client.post("/predict", json={"instances": [PHOTO] * 5}).json()["detail"][0]
    assert "at most 4 photos (MLOPS_SERVING_MAX_BATCH), got 5" in batch["msg"]
    value = client.post("/predict", json={"instances": [[17] * 64]}).json()["detail"][0]
    assert value["msg"] == "Input should be less than or equal to 16"


def test_nan_gets_a_422_and_malformed_json_a_400_not_500s(client):
    nan = json.dumps({"instances": [[float("nan")] + PHOTO[1:]]})
    response = client.post("/predict", content=nan, headers={"content-type": "application/json"})
    assert problems(response) == [(["body", "instances", 0, 0], "finite_number")]
    broken = client.post(
        "/predict", content=b'{"instances": [', headers={"content-type": "application/json"}
    )
    assert problems(broken, status=400)[0][1] == "json_invalid"
    not_utf8 = client.post(
        "/predict", content=b'{"instances": "\xff"}', headers={"content-type": "application/json"}
    )
    assert problems(not_utf8, status=400) == [(["body"], "json_invalid")]
    assert problems(client.post("/predict", json={"pixels": PHOTO})) == [
        (["body", "instances"], "missing"),
        (["body", "pixels"], "extra_forbidden"),
    ]


def test_oversized_bodies_get_a_413(client):
    declared = client.post("/predict", json={"instances": [PHOTO] * 40})
    assert declared.status_code == 413
    streamed = client.post(
        "/predict",
        content=(b"[" + b"0," * 500 for _ in range(10)),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413


def test_predict_huge_invalid_batch_is_refused_before_validation(source):
    """Issue 26, item 1: 5,403 photos of -1 (1 MB) cost 345,792 errors, a 40 MB 422 and 4 s on
    the event loop; the batch bound now answers first, with one small error."""
    source.alias = "1"
    hostile = json.dumps({"instances": [[-1] * 64] * 5403}).encode()
    settings = ServingSettings(poll_interval_s=0, max_batch=256, max_body_bytes=2 << 20)
    with TestClient(create_app(settings, source)) as client:
        response = client.post(
            "/predict", content=hostile, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert len(response.content) < 1000
        body = response.json()
        assert body["total"] == 1
        assert [(p["loc"], p["type"]) for p in body["detail"]] == [
            (["body", "instances"], "too_long")
        ]
        assert client.get("/health").json() == {"status": "ok"}


def test_predict_422_lists_the_first_20_problems_and_counts_all(client):
    """Issue 26, item 1: a batch within the bound still answers a bounded error list."""
    response = client.post("/predict", json={"instances": [[-1] * 64] * MAX_BATCH})
    body = response.json()
    assert response.status_code == 422
    assert (len(body["detail"]), body["total"]) == (20, 64 * MAX_BATCH)


def test_predict_body_bound_follows_the_batch_bound(source):
    """Issue 26, item 1: without MLOPS_SERVING_MAX_BODY_BYTES the 413 bound is what a full
    batch of valid photos with task ids can weigh, not a fixed megabyte."""
    source.alias = "1"
    settings = ServingSettings(poll_interval_s=0, max_batch=4)
    longest = [1.2345678901234567e-05] * 64
    full = {"instances": [longest] * 4, "task_ids": ["t" * 200] * 4}
    hostile = {"instances": [[-1] * 64] * 5403}
    with TestClient(create_app(settings, source)) as client:
        assert client.post("/predict", json=full).status_code == 200
        assert client.post("/predict", json=hostile).status_code == 413
    assert settings.body_limit < 32 * 1024


def test_before_any_model_503_with_a_clear_message(empty_client):
    response = empty_client.post("/predict", json={"instances": [PHOTO]})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("no model loaded yet: waiting for ")
    assert "Retry-After" in response.headers
    assert empty_client.get("/ready").status_code == 503
    assert empty_client.get("/health").json() == {"status": "ok"}
    assert empty_client.get("/model").json()["model"] is None


def test_ready_and_model_report_the_serving_version(client):
    assert client.get("/ready").json() == {"ready": True, "model_version": "1"}
    status = client.get("/model").json()
    assert status["model"]["version"] == "1" and status["model"]["run_id"] == "run-1"
    assert status["model"]["loaded_at"] and status["last_reload"]["reason"] == "startup"


def test_admin_reload_swaps_and_swaps_back(client, source):
    source.alias = "2"
    report = client.post("/admin/reload", params={"reason": "deploy v2"}).json()
    assert (report["status"], report["serving_version"], report["previous_version"]) == (
        "swapped",
        "2",
        "1",
    )
    assert client.post("/predict", json={"instances": [PHOTO]}).json()["model_version"] == "2"
    assert client.get("/model").json()["standby_version"] == "1"
    source.alias = "1"
    assert client.post("/admin/reload").json()["serving_version"] == "1"
    assert client.post("/admin/reload").json()["status"] == "unchanged"


def test_admin_reload_of_a_tampered_model_answers_500_and_keeps_serving(client, source):
    source.files["2"].write_bytes(b"tampered")
    source.alias = "2"
    response = client.post("/admin/reload")
    assert response.status_code == 500
    report = response.json()
    assert report["status"] == "failed" and report["serving_version"] == "1"
    assert "differs from the registered" in report["error"]
    assert client.post("/predict", json={"instances": [PHOTO]}).json()["model_version"] == "1"
    assert client.get("/model").json()["last_error"]["target_version"] == "2"


def test_admin_token_guards_reload(source):
    source.alias = "1"
    app = create_app(serving_settings(serving_admin_token="s3cret"), source)
    with TestClient(app) as client:
        assert client.post("/admin/reload").status_code == 401
        assert client.post("/admin/reload", headers={"X-Admin-Token": "wrong"}).status_code == 401
        ok = client.post("/admin/reload", headers={"X-Admin-Token": "s3cret"})
        assert ok.status_code == 200 and ok.json()["status"] == "unchanged"


def test_admin_reload_without_a_configured_token_is_closed(source):
    source.alias = "1"
    app = create_app(serving_settings(serving_admin_token=None), source)
    with TestClient(app) as client:
        source.alias = None
        refused = client.post("/admin/reload")
        assert refused.status_code == 403
        assert "MLOPS_SERVING_ADMIN_TOKEN" in refused.json()["detail"]
        assert client.get("/model").json()["last_reload"]["reason"] == "startup"


def test_admin_open_is_an_explicit_choice(source):
    source.alias = "1"
    app = create_app(serving_settings(serving_admin_token=None, admin_open=True), source)
    with TestClient(app) as client:
        assert client.post("/admin/reload").json()["status"] == "unchanged"


def test_a_cross_origin_plain_post_cannot_reload(source):
    """What a web page on another site can send without a CORS preflight: no custom header."""
    source.alias = "1"
    with TestClient(create_app(serving_settings(serving_admin_token=None), source)) as client:
        source.alias = "2"
        response = client.post(
            "/admin/reload",
            headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
            content="reason=x",
        )
        assert response.status_code == 403
        assert "access-control-allow-origin" not in response.headers
        assert client.get("/model").json()["model"]["version"] == "1"


# Every IPv4 address of the machine (the unspecified address), written without its literal.
EVERY_ADDRESS = str(ipaddress.IPv4Address(0))


@pytest.mark.parametrize("host", [EVERY_ADDRESS, "192.168.1.20", "::", "inference.internal"])
def test_the_server_refuses_a_non_loopback_address_without_a_token(host):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    environment.update(MLOPS_SERVING_HOST=host, MLOPS_SERVING_PORT="1")
    started = subprocess.run(
        [sys.executable, "-m", "mlops_assets.serving"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert f"refusing to listen on {host} without an admin token" in started.stderr
    assert "export MLOPS_SERVING_ADMIN_TOKEN=" in started.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_token(host):
    check_admin_guard(ServingSettings(host=host))
    check_admin_guard(ServingSettings(host=EVERY_ADDRESS, serving_admin_token="t"))


def test_openapi_documents_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/predict", "/health", "/ready", "/model", "/admin/reload"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_openapi_declares_what_predict_enforces(client):
    schema = client.get("/openapi.json").json()
    instances = schema["components"]["schemas"]["PredictRequest"]["properties"]["instances"]
    assert (instances["minItems"], instances["maxItems"]) == (1, MAX_BATCH)
    photo = instances["items"]
    assert (photo["minItems"], photo["maxItems"]) == (64, 64)
    assert (photo["items"]["minimum"], photo["items"]["maximum"]) == (0, 16)
    responses = schema["paths"]["/predict"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "413", "422", "503"}
    assert set(schema["paths"]["/admin/reload"]["post"]["responses"]) == {
        "200",
        "401",
        "403",
        "422",
        "500",
    }


def test_a_push_subscription_triggers_reloads(source):
    """The hook a ModelPromoted queue consumer plugs into: notify from its own thread."""
    source.alias = "1"
    subscribed = {}

    def subscribe(notify):
        subscribed["notify"] = notify
        return lambda: subscribed.update(closed=True)

    with TestClient(create_app(serving_settings(), source, subscribe)) as client:
        source.alias = "2"
        threading.Thread(target=subscribed["notify"], args=("ModelPromoted v2",)).start()
        deadline = time.monotonic() + 10
        while client.get("/ready").json()["model_version"] != "2":
            assert time.monotonic() < deadline, "push did not reload"
            time.sleep(0.02)
        assert client.get("/model").json()["last_reload"]["reason"] == "ModelPromoted v2"
    assert subscribed["closed"]


def test_the_server_deploys_without_dagster():
    code = (
        "import sys, mlops_assets.serving.app, mlops_assets.serving.__main__;"
        "sys.exit('dagster' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_tracking_password_never_reaches_responses_or_logs_item4(monkeypatch):
    """Issue 26, item 4: a password in MLFLOW_TRACKING_URI appeared in GET /model, in every
    503 of /predict and in the server log. Now: redacted, and the kind only without the token."""
    from mlops_assets.serving.logs import TextFormatter
    from mlops_assets.tools.processes import free_port

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    uri = f"http://mlops:s3cretpass@127.0.0.1:{free_port()}"
    settings = ServingSettings(
        poll_interval_s=0, MLFLOW_TRACKING_URI=uri, serving_admin_token="adm1n"
    )
    lines = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(TextFormatter("%(message)s").format(record))

    handler = Capture()
    logging.getLogger("mlops_assets.serving").addHandler(handler)
    try:
        with TestClient(create_app(settings)) as client:
            refused = client.post("/predict", json={"instances": [PHOTO]})
            anonymous = client.get("/model").text
            admin = client.get("/model", headers={"X-Admin-Token": "adm1n"}).json()
    finally:
        logging.getLogger("mlops_assets.serving").removeHandler(handler)
    assert refused.status_code == 503
    assert "s3cretpass" not in refused.text and "127.0.0.1" not in refused.text
    assert "s3cretpass" not in anonymous and "127.0.0.1" not in anonymous
    error = admin["last_error"]
    assert error["error_kind"] and "mlops:***@" in error["error"]
    assert "s3cretpass" not in error["error"]
    assert lines and not any("s3cretpass" in line for line in lines)
