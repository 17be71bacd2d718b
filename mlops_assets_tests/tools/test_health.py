"""Health checks on embedded defaults and on the stack, up and down."""

import base64
import http.server
import json
import threading

import pytest

from mlops_assets.tools import health
from mlops_assets.tools.cli import main
from mlops_assets.tools.processes import free_port
from mlops_assets_tests.support.services import RABBITMQ_URL, service_missing
from mlops_assets_tests.support.stack_fixtures import stack_settings


def by_concern(results: list[health.Health]) -> dict[str, health.Health]:
    return {r.concern: r for r in results}


def test_embedded_defaults_are_healthy(settings, monkeypatch, tmp_path):
    settings = settings.model_copy(update={"dagster_home": tmp_path / "dagster"})
    results = by_concern(health.check_all(settings))
    assert all(r.ok for r in results.values()), health.render(list(results.values()))
    assert results["training data store"].backend == "SQLite (embedded)"
    assert results["MLflow tracking + registry"].backend == "SQLite (embedded)"
    assert results["training-data snapshots"].backend == "local folder (embedded)"
    assert results["Dagster instance"].backend == "SQLite (embedded)"


def test_unset_dagster_home_is_reported(settings):
    result = health.dagster_instance(settings.model_copy(update={"dagster_home": None}))
    assert not result.ok and "DAGSTER_HOME" in result.detail


def test_servers_that_do_not_answer_are_down(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    port = free_port()
    settings = settings.model_copy(
        update={
            "tracking_uri": f"http://127.0.0.1:{port}",
            "data_store_url": f"postgresql+psycopg2://postgres@127.0.0.1:{port}/x",
            "object_store_url": "s3://mlops/datasets",
            "s3_endpoint_url": f"http://127.0.0.1:{port}",
        }
    )
    results = by_concern(health.check_all(settings))
    assert not results["MLflow tracking + registry"].ok
    assert not results["training data store"].ok
    assert not results["training-data snapshots"].ok
    assert "does not answer" in results["training-data snapshots"].detail


def test_cli_exit_code(monkeypatch, tmp_path, capsys):
    for name in ("MLFLOW_TRACKING_URI", "MLOPS_DATA_STORE_URL", "MLOPS_OBJECT_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert main(["health"]) == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    assert main(["health"]) == 1
    assert "DOWN MLflow tracking + registry" in capsys.readouterr().out


@pytest.mark.integration
@pytest.mark.parametrize("mlflow_database", ["postgresql"], indirect=True)
def test_stack_is_healthy(tmp_path, seaweedfs, mlflow_server, data_store_database, monkeypatch):
    settings = stack_settings(
        tmp_path / "var", seaweedfs, mlflow_server, data_store_database, monkeypatch
    )
    settings = settings.model_copy(
        update={
            "dagster_home": tmp_path / "dagster",
            "mlflow_s3_endpoint_url": seaweedfs.endpoint_url,
            "artifact_location": f"s3://{seaweedfs.bucket}/mlflow",
        }
    )
    results = by_concern(health.check_all(settings))
    assert all(r.ok for r in results.values()), health.render(list(results.values()))
    assert results["training data store"].backend == "postgresql"
    assert results["MLflow tracking + registry"].backend == "MLflow server"
    assert results["MLflow artifacts"].backend == f"S3 at {seaweedfs.endpoint_url}"

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    results = by_concern(health.check_all(settings))
    assert not results["training-data snapshots"].ok
    assert "fix AWS_SECRET_ACCESS_KEY" in results["training-data snapshots"].detail


def test_missing_credentials_are_named(settings, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = settings.model_copy(
        update={
            "object_store_url": "s3://mlops/x",
            "s3_endpoint_url": f"http://127.0.0.1:{free_port()}",
        }
    )
    result = health.object_store(settings)
    assert not result.ok
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in result.detail


def test_shown_urls_hide_passwords():
    assert health.without_password("amqp://u:pw@rabbit:5672/%2F") == "amqp://u:***@rabbit:5672/%2F"
    assert health.without_password("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


@pytest.mark.integration
def test_event_queue_on_rabbitmq_up_and_down(settings):
    up = health.event_queue(settings.model_copy(update={"rabbitmq_url": RABBITMQ_URL}))
    if not up.ok:
        service_missing(f"RabbitMQ at {RABBITMQ_URL} does not answer: {up.detail}")
    assert up.backend == "RabbitMQ" and ":***@" in up.target
    down_url = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    down = health.event_queue(settings.model_copy(update={"rabbitmq_url": down_url}))
    assert not down.ok and down.detail


@pytest.fixture
def serving_stub():
    """A stand-in inference server: GET /ready answers `status` (500 stands for "not ready
    after a failed load": /ready answers 503 and /model names the error)."""
    servers = []

    def start(status: int) -> str:
        class Ready(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/model":
                    error = {"error": "v3: sha256 differs"} if status == 500 else None
                    body = json.dumps({"model": None, "last_error": error}).encode()
                    self.send_response(200)
                else:
                    code = 503 if status == 500 else status
                    body = json.dumps({"ready": code == 200, "model_version": "7"}).encode()
                    self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_inference_server_ready_not_ready_and_unset(settings, serving_stub):
    assert health.inference_server(settings).ok  # unset: nothing to check
    ready = health.inference_server(settings.model_copy(update={"serving_url": serving_stub(200)}))
    assert ready.ok and ready.detail == "serving v7"
    waiting = serving_stub(503)  # no champion yet: up and waiting
    first = health.inference_server(settings.model_copy(update={"serving_url": waiting}))
    assert first.ok and "no model yet" in first.detail
    refusing = serving_stub(500)  # its last load failed
    broken = health.inference_server(settings.model_copy(update={"serving_url": refusing}))
    assert not broken.ok and "503" in broken.detail and "sha256 differs" in broken.detail
    gone = health.inference_server(
        settings.model_copy(update={"serving_url": f"http://127.0.0.1:{free_port()}"})
    )
    assert not gone.ok


def test_step_executor_in_process_needs_no_worker(settings):
    result = health.step_workers(settings)
    assert result.ok and result.backend == "in-process"


def test_celery_executor_without_broker_says_what_to_set(settings):
    result = health.step_workers(settings.model_copy(update={"executor": "celery"}))
    assert not result.ok and "RABBITMQ_URL" in result.detail


def test_celery_broker_that_does_not_answer_is_down(settings):
    broker = f"amqp://guest:secret@127.0.0.1:{free_port()}/%2F"
    result = health.step_workers(
        settings.model_copy(update={"executor": "celery", "celery_broker_url": broker})
    )
    assert not result.ok and "refused" in result.detail
    assert "secret" not in result.target


def test_tracking_userinfo_goes_as_an_auth_header_not_the_host_name_item6(settings):
    """Issue 26, item 6: http://user:pass@host went to DNS as the host "user:pass@host"."""
    seen = []

    class Tracking(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tracking)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://mlops:p%40ss@127.0.0.1:{server.server_port}"
        result = health.tracking(settings.model_copy(update={"tracking_uri": uri}))
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok, result.detail
    assert seen == [("/health", "Basic " + base64.b64encode(b"mlops:p@ss").decode())]
    assert "p%40ss" not in result.target
