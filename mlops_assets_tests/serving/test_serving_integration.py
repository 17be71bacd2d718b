"""The inference server as a real uvicorn process on a real MLflow registry (SQLite file).

Versions are logged the way `trained_model` logs them (mlflow.tensorflow.log_model, then
RegistryClient.register with the `.keras` file's sha256). One server and one registry serve the
whole module; each test first puts @champion where it needs it.
"""

import os
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import httpx
import numpy as np
import pytest

from mlops_assets.backends import factory
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.backends.inference_server import deploy
from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    ModelPromoted,
    ModelRolledBack,
    parse_event,
)
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import DeploymentResult
from mlops_assets.definitions import build_definitions, build_resources
from mlops_assets.graph.assets.deployment import deployment_asset
from mlops_assets.ml.predictor import Predictor
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.inference_server import InferenceServerResource
from mlops_assets.settings import Settings
from mlops_assets.tools import cli
from mlops_assets_tests.support.photo_graph import PHOTO
from mlops_assets_tests.support.receiver import http_receiver
from mlops_assets_tests.support.serving import (
    champion_change,
    log_and_register,
    running_server,
)

pytestmark = pytest.mark.integration

PHOTOS = np.random.default_rng(7).integers(0, 17, size=(3, 64)).astype(float)
ADMIN_TOKEN = "integration-admin-token"


deployment = deployment_asset(load_fleet().model("task_photos"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("serving") / "var"
    home.mkdir()
    settings = Settings(
        home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", artifact_location=None
    )
    registry = factory.registry(settings)
    models = {}
    for seed in (1, 2):
        version, model = log_and_register(settings, registry, seed)
        models[version] = model
    wrong_hash, _ = log_and_register(settings, registry, 3, sha256="0" * 64)
    bad_bytes, _ = log_and_register(settings, registry, 4)
    stored = registry.client().get_model_version_download_uri(registry.model_name, bad_bytes)
    # The stored artifact itself (file:// store), as a corrupted bucket object would be.
    (stored_file,) = Path(urlparse(stored).path).rglob("*.keras")
    registry.promote("1", "first champion")
    env = {
        "MLOPS_HOME": str(home),
        "MLFLOW_TRACKING_URI": settings.resolved_tracking_uri,
        "MLOPS_SERVING_POLL_INTERVAL_S": "1",
        "MLOPS_SERVING_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    # Registering exported MLflow's tracking URI into this process's environment; resources built
    # while it is there would read it from a variable each test's start removes (conftest).
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with running_server(env, home / "server.log") as url:
        expected = {v: Predictor(m).predict_pixels(PHOTOS).probabilities for v, m in models.items()}
        assert not np.allclose(expected["1"], expected["2"], atol=1e-4)
        yield {
            "settings": settings.model_copy(
                update={"serving_url": url, "serving_admin_token": ADMIN_TOKEN}
            ),
            "registry": registry,
            "resources": build_resources(settings),
            "url": url,
            "expected": expected,
            "wrong_hash": wrong_hash,
            "bad_bytes": bad_bytes,
            "bad_bytes_file": stored_file,
        }


def served(url: str) -> dict:
    response = httpx.post(f"{url}/predict", json={"instances": PHOTOS.tolist()}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def champion_serving(stack, version: str) -> None:
    """Puts @champion on `version` (recording the promotion) and waits for the server."""
    registry = stack["registry"]
    if registry.champion().version != version:
        registry.promote(version, "test setup")
    deploy(stack["url"], version, "test setup", timeout_s=60, admin_token=ADMIN_TOKEN)


def test_promote_v2_under_load_switches_without_a_failed_or_mixed_answer(stack):
    champion_serving(stack, "1")
    url, expected = stack["url"], stack["expected"]
    stop = threading.Event()
    seen: list[list[str]] = [[] for _ in range(4)]
    problems: list[str] = []

    def client(slot: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                response = http.post("/predict", json={"instances": PHOTOS.tolist()})
                if response.status_code != 200:
                    problems.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                body = response.json()
                version = body["model_version"]
                answered = np.array([p["probabilities"] for p in body["predictions"]])
                if not np.allclose(answered, expected[version], atol=1e-5):
                    problems.append(f"answer labelled v{version} is not v{version}'s")
                seen[slot].append(version)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    stack["registry"].promote("2", "challenger passed every gate")
    report = deploy(url, "2", "ModelPromoted v2", timeout_s=60, admin_token=ADMIN_TOKEN)
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()

    assert problems == []
    assert report["serving_version"] == "2"
    for versions in seen:
        assert versions[0] == "1" and versions[-1] == "2"
        switch = versions.index("2")
        assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}


def test_rollback_command_brings_the_server_back_to_v1(stack, monkeypatch):
    champion_serving(stack, "2")
    settings = stack["settings"]
    monkeypatch.setenv("MLOPS_HOME", str(settings.home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.resolved_tracking_uri)
    monkeypatch.setenv("MLOPS_SERVING_URL", stack["url"])
    monkeypatch.setenv("MLOPS_SERVING_ADMIN_TOKEN", ADMIN_TOKEN)
    assert cli.main(["rollback", "--reason", "test: v2 misbehaves"]) == 0
    assert served(stack["url"])["model_version"] == "1"
    assert stack["registry"].champion().version == "1"
    assert stack["registry"].history()[-1]["action"] == "rolled_back"


def test_rollback_job_brings_the_server_back_to_v1(stack):
    champion_serving(stack, "2")
    job = build_definitions(stack["settings"]).resolve_job_def(PHOTO.rollback_job)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    assert result.output_for_node("task_photos_rollback_champion")["server_following"] is True
    assert served(stack["url"])["model_version"] == "1"


@pytest.mark.parametrize("which", ["wrong_hash", "bad_bytes"])
def test_corrupt_artifact_is_refused_and_v1_keeps_serving(stack, which):
    champion_serving(stack, "1")
    if which == "bad_bytes":
        stack["bad_bytes_file"].write_bytes(b"corrupted after registration")
    version = stack[which]
    stack["registry"].promote(version, "test: corrupt")
    response = httpx.post(
        f"{stack['url']}/admin/reload", headers={"X-Admin-Token": ADMIN_TOKEN}, timeout=60
    )
    assert response.status_code == 500
    report = response.json()
    assert report["status"] == "failed" and report["target_version"] == version
    assert report["serving_version"] == "1"
    assert "differs from the registered" in report["error"]
    assert served(stack["url"])["model_version"] == "1"
    stack["registry"].rollback("test cleanup")


def test_deployment_serves_the_new_champion(stack, tmp_path):
    champion_serving(stack, "1")
    stack["registry"].promote("2", "test: gates passed")
    output = deployment(
        dg.build_asset_context(),
        champion_model=champion_change("2", "1"),
        model_registry=stack["resources"]["model_registry"],
        inference_server=InferenceServerResource(
            url=stack["url"], timeout_s=60, admin_token=ADMIN_TOKEN
        ),
        event_queue=EventQueueResource(sqlite_path=str(tmp_path / "events.db")),
        alerts=stack["resources"]["alerts"],
    )
    assert output.value == DeploymentResult(status="serving", version="2", previous_version="1")
    assert served(stack["url"])["model_version"] == "2"


def test_deployment_compensates_when_the_server_refuses_the_model(stack, tmp_path):
    champion_serving(stack, "1")
    registry = stack["registry"]
    registry.promote(stack["wrong_hash"], "test: gates passed")
    resources = stack["resources"]
    # A queue of its own: the stack's server consumes model events from the default one.
    path = str(tmp_path / "events.db")
    events = SqliteQueue(path)
    with (
        http_receiver() as receiver,
        pytest.raises(dg.Failure, match="did not serve") as failure,
    ):
        deployment(
            dg.build_asset_context(),
            champion_model=champion_change(stack["wrong_hash"], "1"),
            model_registry=resources["model_registry"],
            inference_server=InferenceServerResource(
                url=stack["url"], timeout_s=60, admin_token=ADMIN_TOKEN
            ),
            event_queue=EventQueueResource(sqlite_path=path),
            alerts=AlertsResource(
                sent_path=str(tmp_path / "alerts.db"), webhook_url=f"{receiver.base_url}/hook"
            ),
        )
    [alert] = receiver.bodies("/hook")
    assert alert["kind"] == "rollback" and alert["details"]["version"] == "1"
    [rolled_back] = events.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=1)
    assert parse_event(rolled_back.body, ModelRolledBack).version == "1"
    assert "'server_following': True" in failure.value.metadata["compensation"].value
    assert registry.champion().version == "1"
    last = registry.history()[-1]
    assert last["action"] == "rolled_back" and "deployment of" in last["reason"]
    assert served(stack["url"])["model_version"] == "1"


def test_a_pushed_promotion_reloads_a_server_that_does_not_poll(stack, tmp_path):
    champion_serving(stack, "1")
    settings, registry = stack["settings"], stack["registry"]
    events = SqliteQueue(str(tmp_path / "events.db"))
    events.open()
    env = {
        "MLOPS_HOME": str(settings.home),
        "MLFLOW_TRACKING_URI": settings.resolved_tracking_uri,
        # Polling effectively off: only the pushed message can bring v2 in.
        "MLOPS_SERVING_POLL_INTERVAL_S": "3600",
        "MLOPS_EVENT_QUEUE_PATH": events.path,
        # The embedded queue even where the caller's environment names a broker.
        "RABBITMQ_URL": "",
    }
    with running_server(env, tmp_path / "server.log") as url:
        assert served(url)["model_version"] == "1"
        registry.promote("2", "test: pushed")
        events.publish(
            MODEL_EVENTS_QUEUE,
            [ModelPromoted(model_name=registry.model_name, version="2", previous_version="1")],
        )
        deadline = time.monotonic() + 60
        while served(url)["model_version"] != "2":
            assert time.monotonic() < deadline, "the pushed promotion did not reload the server"
            time.sleep(0.1)
        assert httpx.get(f"{url}/model").json()["last_reload"]["reason"] == "ModelPromoted v2"
    # The server is gone: a message it had not acked would be reclaimed and fetched here.
    assert events.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=1) == []
    events.close()
