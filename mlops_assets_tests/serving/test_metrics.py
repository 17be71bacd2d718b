"""/metrics in Prometheus format, request ids and the model version header, through the app."""

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets_tests.support.serving import tiny_model

PHOTO = [float(i % 17) for i in range(64)]
# Every model metric is labelled with the fleet model's name.
MODEL = (("model", "task_photos"),)


@pytest.fixture
def client(source):
    source.alias = "1"
    settings = ServingSettings(poll_interval_s=0, max_batch=4, serving_admin_token="t")
    with TestClient(create_app(settings, source), headers={"X-Admin-Token": "t"}) as client:
        yield client


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def latency_count(scraped: dict, route: str, method: str, status: str) -> float:
    labels = (("method", method), ("route", route), ("status", status))
    return scraped.get(("mlops_serving_request_duration_seconds_count", labels), 0)


def test_predictions_are_counted_by_route_status_and_label(client, source):
    for _ in range(3):
        assert client.post("/predict", json={"instances": [PHOTO, PHOTO]}).status_code == 200
    assert client.post("/predict", json={"instances": [[99] * 64]}).status_code == 422
    assert client.get("/no-such-page").status_code == 404
    scraped = samples(client)
    assert latency_count(scraped, "/predict", "POST", "200") == 3
    assert latency_count(scraped, "/predict", "POST", "422") == 1
    assert latency_count(scraped, "unmatched", "GET", "404") == 1
    by_label = {
        dict(labels)["label"]: value
        for (name, labels), value in scraped.items()
        if name == "mlops_serving_predictions_total" and dict(labels)["model"] == "task_photos"
    }
    assert set(by_label) == {str(label) for label in range(10)}
    assert sum(by_label.values()) == 6
    assert scraped[("mlops_serving_model_version", (("model", "task_photos"),))] == 1


def test_swaps_and_reload_failures_are_counted(client, source):
    before = samples(client)
    assert before[("mlops_serving_model_swaps_total", MODEL)] == 1  # the startup load
    assert before[("mlops_serving_reload_failures_total", MODEL)] == 0
    source.alias = "2"
    assert client.post("/admin/reload").json()["status"] == "swapped"
    source.add("3", tiny_model(3)).write_bytes(b"tampered")
    source.alias = "3"
    assert client.post("/admin/reload").status_code == 500
    after = samples(client)
    assert after[("mlops_serving_model_swaps_total", MODEL)] == 2
    assert after[("mlops_serving_reload_failures_total", MODEL)] == 1
    assert after[("mlops_serving_model_version", MODEL)] == 2


def test_the_request_id_is_echoed_or_made(client):
    given = client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    made = client.get("/health").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    too_long = client.get("/health", headers={"X-Request-ID": "x" * 500})
    assert too_long.headers["X-Request-ID"] != "x" * 500


def test_every_prediction_names_its_model_version_in_a_header(client, source):
    response = client.post("/predict", json={"instances": [PHOTO]})
    assert response.headers["X-Model-Version"] == response.json()["model_version"] == "1"
    assert "X-Model-Version" not in client.get("/health").headers


def test_metrics_can_be_turned_off(source):
    source.alias = "1"
    settings = ServingSettings(poll_interval_s=0, metrics=False)
    with TestClient(create_app(settings, source)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/health").headers["X-Request-ID"]
