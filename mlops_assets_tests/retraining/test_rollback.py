"""The rollback use case and the `mlops-assets rollback` command, without an inference server.

The rollback with a real server is in test_serving_integration.py.
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlops_assets
from mlops_assets.backends import factory
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.backends.inference_server import InferenceServerClient
from mlops_assets.backends.notifier import Notifier
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.events import MODEL_EVENTS_QUEUE, ModelRolledBack, parse_event
from mlops_assets.retraining.rollback import roll_back_champion
from mlops_assets.tools import processes
from mlops_assets_tests.support.receiver import http_receiver
from mlops_assets_tests.support.services import RABBITMQ_URL

# Runs the command's own entry point, then reports which heavy packages it imported.
COMMAND = """
import json, sys
from mlops_assets.tools import cli
code = cli.main(["rollback", "--reason", "test: v2 misbehaves"])
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"dagster", "tensorflow", "keras"})
print(json.dumps({"exit": code, "heavy": heavy}))
"""


@pytest.fixture
def registry(tmp_path) -> RegistryClient:
    """A SQLite registry whose champion v2 replaced v1."""
    registry = RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "rollback-test")
    for version in ("1", "2"):
        registry.register(f"file://{tmp_path}/model-{version}", None, "0" * 64)
        registry.promote(version, f"test: v{version}")
    return registry


def test_a_rollback_publishes_model_rolled_back(registry, queue_factory):
    queue = queue_factory()
    moved = roll_back_champion(
        registry, InferenceServerClient(url=None), queue, "bad", logging.getLogger("test")
    )
    [message] = queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=2)
    event = parse_event(message.body, ModelRolledBack)
    assert (event.model_name, event.version, event.previous_version) == ("rollback-test", "1", "2")
    assert event.reason == "bad" and moved.pending == ()


def test_roll_back_champion_without_a_server_moves_the_alias_and_announces_it(registry, tmp_path):
    queue = SqliteQueue(str(tmp_path / "events.db"))
    moved = roll_back_champion(
        registry, InferenceServerClient(url=None), queue, "test: bad", logging.getLogger("test")
    )
    assert (moved.model_name, moved.version, moved.previous_version) == ("rollback-test", "1", "2")
    assert moved.server_following is None and moved.transition.startswith("rollback-")
    assert registry.champion().version == "1"
    assert registry.history()[-1] | {"at": None} == {
        "at": None,
        "action": "rolled_back",
        "version": "1",
        "previous": "2",
        "reason": "test: bad",
        "month": None,
        "transition": moved.transition,
    }
    [message] = queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=1)
    assert parse_event(message.body, ModelRolledBack).version == "1"
    queue.close()


def test_the_first_champion_has_nothing_to_roll_back_to(tmp_path):
    registry = RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "rollback-test")
    registry.register(f"file://{tmp_path}/model-1", None, "0" * 64)
    registry.promote("1", "test: first")
    queue = SqliteQueue(str(tmp_path / "events.db"))
    with pytest.raises(ValueError, match="first champion"):
        roll_back_champion(
            registry, InferenceServerClient(url=None), queue, "x", logging.getLogger()
        )
    assert queue.depth(MODEL_EVENTS_QUEUE) == 0
    queue.close()


def run_command(
    registry: RegistryClient, home: Path, command: str = COMMAND, **variables: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    env.update(
        MLOPS_HOME=str(home),
        MLFLOW_TRACKING_URI=registry.tracking_uri,
        MLOPS_MODEL_NAME=registry.model_name,
        RABBITMQ_URL="",
        # This checkout first, wherever the virtualenv's editable install points.
        PYTHONPATH=os.pathsep.join(
            [str(Path(mlops_assets.__file__).parents[1]), env.get("PYTHONPATH", "")]
        ),
    )
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", command], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_rolls_back_without_importing_dagster_or_tensorflow(registry, tmp_path):
    result = run_command(registry, tmp_path / "var")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"exit": 0, "heavy": []}
    assert "rollback v2 -> v1 (rollback-" in result.stderr
    assert registry.champion().version == "1"
    queue = SqliteQueue(str(tmp_path / "var" / "events.db"))
    [message] = queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=1)
    event = parse_event(message.body, ModelRolledBack)
    assert (event.version, event.previous_version) == ("1", "2")
    queue.close()


def test_the_command_fails_when_there_is_nothing_to_roll_back(registry, tmp_path):
    assert run_command(registry, tmp_path / "var").returncode == 0
    result = run_command(registry, tmp_path / "var")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exit"] == 1
    assert "first champion" in result.stderr
    assert registry.champion().version == "1"


def test_a_rollback_alerts_once_and_a_dead_channel_does_not_undo_it(registry, tmp_path, caplog):
    with http_receiver() as receiver:
        notifier = Notifier(tmp_path / "alerts.db", webhook_url=f"{receiver.base_url}/hook")
        moved = roll_back_champion(
            registry,
            InferenceServerClient(None),
            None,
            "test: v2 misbehaves",
            logging.getLogger("test"),
            notifier=notifier,
        )
        [alert] = receiver.bodies("/hook")
    assert moved.version == "1" and registry.champion().version == "1"
    assert alert["kind"] == "rollback" and alert["severity"] == "error"
    assert "rolled back from v2 to v1: test: v2 misbehaves" in alert["summary"]

    registry.promote("2", "test: v2 again")
    dead = Notifier(tmp_path / "alerts.db", webhook_url=f"{receiver.base_url}/hook")  # closed
    with caplog.at_level(logging.WARNING):
        again = roll_back_champion(
            registry,
            InferenceServerClient(None),
            None,
            "again",
            logging.getLogger("t"),
            notifier=dead,
        )
    assert again.version == "1" and "not delivered yet: AlertDeliveryError" in caplog.text
    assert again.pending == (f"outbox/{again.transition}/alert",)


OUTBOX_COMMAND = """
from mlops_assets.tools import cli
raise SystemExit(cli.main(["outbox"]))
"""


@pytest.mark.integration
def test_case4_a_rollback_with_the_broker_down_exits_0_and_publishes_once_it_is_back(
    registry, tmp_path
):
    down = f"amqp://guest:guest@{processes.HOST}:{processes.free_port()}/%2F"
    prefix = f"test-{os.urandom(5).hex()}."
    result = run_command(
        registry, tmp_path / "var", RABBITMQ_URL=down, MLOPS_EVENT_QUEUE_PREFIX=prefix
    )
    assert json.loads(result.stdout.strip().splitlines()[-1])["exit"] == 0, result.stderr
    assert "pending in the outbox: outbox/rollback-" in result.stderr
    assert registry.champion().version == "1"
    assert [e["action"] for e in registry.history()].count("rolled_back") == 1

    back = run_command(
        registry,
        tmp_path / "var",
        OUTBOX_COMMAND,
        RABBITMQ_URL=RABBITMQ_URL,
        MLOPS_EVENT_QUEUE_PREFIX=prefix,
    )
    assert back.returncode == 0, back.stderr
    queue = factory.event_queue_for(RABBITMQ_URL, "", prefix, connect_attempts=2)
    try:
        messages = queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=2)
        again = run_command(
            registry,
            tmp_path / "var",
            OUTBOX_COMMAND,
            RABBITMQ_URL=RABBITMQ_URL,
            MLOPS_EVENT_QUEUE_PREFIX=prefix,
        )
        assert again.returncode == 0 and "outbox: delivered" not in again.stderr
        assert queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=1) == []
    finally:
        queue.remove(MODEL_EVENTS_QUEUE)
        queue.close()
    [event] = [parse_event(m.body, ModelRolledBack) for m in messages]
    assert (event.version, event.previous_version) == ("1", "2")
    assert registry.champion().version == "1"


def test_a_rollback_the_server_does_not_follow_moves_the_alias_and_fails_the_command(
    registry, tmp_path
):
    down = f"http://{processes.HOST}:{processes.free_port()}"
    moved = roll_back_champion(
        registry, InferenceServerClient(down, 1), None, "test", logging.getLogger("test")
    )
    assert moved.server_following is False and registry.champion().version == "1"
    registry.promote("2", "test: v2 again")
    result = run_command(registry, tmp_path / "var", MLOPS_SERVING_URL=down)
    assert json.loads(result.stdout.strip().splitlines()[-1])["exit"] == 1
    assert f"@champion is v1 but {down} did not follow" in result.stderr
    assert registry.champion().version == "1"
