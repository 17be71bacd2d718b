"""The pipeline's client of the inference server, against a small HTTP server playing its part.

The real server is in serving/test_serving_integration.py; here each answer the client must
handle is played on purpose: a swap, a refused model, a wrong token, a server that lags behind.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops_assets.backends.inference_server import DeploymentError, InferenceServerClient


class FakeServer:
    """Answers /admin/reload and /model like the inference server would, as told."""

    def __init__(self) -> None:
        self.reload_status = 200
        self.reload_body: dict = {}
        self.serving = "1"
        self.model_delay_s = 0.0
        self.tokens: list[str | None] = []
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped waiting (a deadline test)

            def do_POST(self) -> None:
                owner.paths.append(f"POST {self.path}")
                owner.tokens.append(self.headers.get("X-Admin-Token"))
                self._answer(owner.reload_status, owner.reload_body)

            def do_GET(self) -> None:
                owner.paths.append(f"GET {self.path}")
                time.sleep(owner.model_delay_s)
                self._answer(200, {"model": {"version": owner.serving}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def test_a_swap_to_the_version_is_a_deployment(server):
    server.reload_body = {"status": "swapped", "serving_version": "2", "target_version": "2"}
    report = InferenceServerClient(server.url, timeout_s=5, admin_token="t").deploy("2", "test")
    assert report["status"] == "swapped"
    assert server.tokens == ["t"]


def test_a_refused_model_says_which_version_still_serves(server):
    server.reload_status = 500
    server.reload_body = {
        "status": "failed",
        "target_version": "2",
        "serving_version": "1",
        "error": "sha256 differs",
    }
    with pytest.raises(DeploymentError, match=r"refused v2: sha256 differs \(still serving v1\)"):
        InferenceServerClient(server.url, timeout_s=5).deploy("2", "test")


def test_an_unexpected_answer_is_quoted(server):
    server.reload_status = 401
    server.reload_body = {"detail": "missing or wrong X-Admin-Token"}
    with pytest.raises(DeploymentError, match="answered 401 .*X-Admin-Token"):
        InferenceServerClient(server.url, timeout_s=5).deploy("2", "test")


def test_a_server_that_answered_with_another_version_is_waited_for(server):
    server.reload_body = {"status": "unchanged", "serving_version": "1", "target_version": "1"}
    threading.Timer(0.3, lambda: setattr(server, "serving", "2")).start()
    report = InferenceServerClient(server.url, timeout_s=5).deploy("2", "test")
    assert report["status"] == "unchanged"
    server.serving = "1"
    with pytest.raises(DeploymentError, match="still serves v1, not v2"):
        InferenceServerClient(server.url, timeout_s=0.5).deploy("2", "test")


def test_a_server_too_slow_to_answer_before_the_deadline_still_serves_the_old_version(server):
    """The last poll has only what is left of the wait: its timeout is the deadline passing,
    not an unreachable server."""
    server.reload_body = {"status": "unchanged", "serving_version": "1", "target_version": "1"}
    server.model_delay_s = 1.0
    with pytest.raises(DeploymentError, match="still serves v1, not v2"):
        InferenceServerClient(server.url, timeout_s=0.3).deploy("2", "test")


def test_no_url_is_not_configured_and_refuses_to_deploy():
    client = InferenceServerClient(None)
    assert not client.configured
    with pytest.raises(DeploymentError, match="MLOPS_SERVING_URL"):
        client.deploy("2", "test")


def test_each_model_is_deployed_through_its_own_route(server):
    server.reload_body = {"status": "unchanged", "serving_version": "1", "target_version": "1"}
    threading.Timer(0.2, lambda: setattr(server, "serving", "2")).start()
    InferenceServerClient(server.url, timeout_s=5).deploy("2", "test", model="face_verifier")
    assert server.paths[0] == "POST /models/face_verifier/admin/reload?reason=test"
    assert set(server.paths[1:]) == {"GET /models/face_verifier"}
    server.reload_body["serving_version"] = "2"
    server.paths.clear()
    InferenceServerClient(server.url, timeout_s=5).deploy("2", "test")
    assert server.paths == ["POST /models/task_photos/admin/reload?reason=test"]
    server.paths.clear()
    InferenceServerClient(server.url, timeout_s=5).deploy("2", "test", "faces", route="/v2/faces")
    assert server.paths == ["POST /v2/faces/admin/reload?reason=test"]


def test_a_refusal_names_the_model(server):
    server.reload_status = 500
    server.reload_body = {"status": "failed", "target_version": "3", "serving_version": "2"}
    server.reload_body["error"] = "smoke test"
    with pytest.raises(DeploymentError, match=r"\(face_verifier\) refused v3: smoke test"):
        InferenceServerClient(server.url, timeout_s=5).deploy("3", "t", model="face_verifier")
