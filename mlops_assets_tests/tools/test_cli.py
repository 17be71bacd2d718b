"""The command line: dead letters are listed with their reasons and re-driven on request."""

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent
from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE, FACE_VECTOR_DIMENSION
from mlops_assets.contracts.records import ConfirmedWindow
from mlops_assets.retraining.replication import FACE_EVENTS, replicate
from mlops_assets.tools import cli

Q = TASK_CONFIRMED_QUEUE


@pytest.fixture
def environment(queue_factory, settings, monkeypatch):
    """Points the command line's settings at the test's queues (either backend)."""
    monkeypatch.setenv("MLOPS_HOME", str(settings.home))
    monkeypatch.setenv("MLOPS_EVENT_QUEUE_PREFIX", queue_factory.prefix)
    if queue_factory.backend == "rabbitmq":
        monkeypatch.setenv("RABBITMQ_URL", queue_factory.location)
    else:
        monkeypatch.setenv("MLOPS_EVENT_QUEUE_PATH", queue_factory.location)
    return queue_factory


def january_event(i: int) -> bytes:
    return TaskConfirmedEvent(
        event_id=f"january-{i}",
        task_id=f"task-{i}",
        confirmed_at=datetime(2025, 1, 2, tzinfo=UTC),
        label=i % 10,
        pixels=[i % 17] * 64,
        source="helper",
    ).to_json()


def test_dead_letters_are_shown_with_their_reason(environment, tmp_path, caplog):
    queue = environment()
    queue.publish_bodies(Q, [b"not json", b"[]"])
    replicate(queue, TrainingDataStore(f"sqlite:///{tmp_path / 's.db'}"), 10, max_seconds=5)
    with caplog.at_level("INFO", logger="mlops_assets"):
        assert cli.main(["dead-letters"]) == 0
    assert "not JSON" in caplog.text and "not a JSON object: list" in caplog.text
    assert "2 dead-lettered task events shown" in caplog.text


def test_requeue_moves_the_chosen_letters_back_once(environment, tmp_path, caplog):
    """A misconfigured earliest date dead-letters January; after the fix, a re-drive stores it."""
    queue = environment()
    queue.publish_bodies(Q, [january_event(i) for i in range(3)] + [b"not json"])
    too_late = ConfirmedWindow(earliest=datetime(2025, 6, 1, tzinfo=UTC))
    misconfigured = TrainingDataStore(f"sqlite:///{tmp_path / 's.db'}", too_late)
    drained = replicate(queue, misconfigured, 100, max_seconds=5)
    assert (drained.inserted, drained.dead_lettered) == (0, 4)

    with caplog.at_level("INFO", logger="mlops_assets"):
        assert cli.main(["dead-letters", "--requeue", "--reason-contains", "earliest"]) == 0
        assert cli.main(["dead-letters", "--requeue", "--reason-contains", "earliest"]) == 0
    assert "moved 3 dead-lettered task events whose reason contains 'earliest'" in caplog.text
    assert "moved 0 dead-lettered" in caplog.text

    fixed = TrainingDataStore(misconfigured.url, ConfirmedWindow())
    for _ in range(20):  # RabbitMQ hands re-driven messages over asynchronously
        replicate(queue, fixed, 100, max_seconds=2)
        if fixed.count() == 3:
            break
    assert sorted(fixed.snapshot()["event_id"]) == [f"january-{i}" for i in range(3)]
    assert [letter.body for letter in queue.dead_letters(Q)] == [b"not json"]


def test_requeue_without_a_filter_moves_every_letter(environment, tmp_path):
    queue = environment()
    future = json.loads(january_event(0))
    future["confirmed_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    queue.publish_bodies(Q, [b"{", json.dumps(future).encode()])
    replicate(queue, TrainingDataStore(f"sqlite:///{tmp_path / 's.db'}"), 10, max_seconds=5)
    assert cli.main(["dead-letters", "--requeue"]) == 0
    assert queue.dead_letters(Q) == [] and queue.depth(Q) == 2


def test_reason_contains_needs_requeue():
    with pytest.raises(SystemExit):
        cli.main(["dead-letters", "--reason-contains", "earliest"])


def test_rollback_without_a_champion_says_so_and_fails(settings, caplog):
    with caplog.at_level("ERROR", logger="mlops_assets"):
        assert cli.rollback(settings, "test") == 1
    assert "has no @champion: nothing to roll back" in caplog.text


def test_stderr_silenced_reaches_native_output_and_restores_it(capfd):
    import subprocess
    import sys

    from mlops_assets.tools.cli import stderr_silenced

    with stderr_silenced():
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'banner')"], check=True)
    subprocess.run([sys.executable, "-c", "import os; os.write(2, b'after')"], check=True)
    err = capfd.readouterr().err
    assert "banner" not in err and "after" in err


# What a library's log line or warning looks like (a level, a timestamp, a warning category,
# alembic's migrations); the commands' own lines have none of it.
LIBRARY_LINE = re.compile(r"\b(DEBUG|INFO|WARNING)\b|alembic|^\d{4}[-/]\d\d[-/]\d\d |\w+Warning:")


def run_command(home, *args: str):
    """Runs `mlops-assets` as a person does, on an embedded instance under `home`."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "deploy" / "dagster-local.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    env |= {"MLOPS_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    command = [str(Path(sys.executable).parent / "mlops-assets"), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    return result, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["runs"], "retraining runs at "),
        (["dead-letters"], "0 dead-lettered task events shown"),
        (["dead-letters", "--source", "face"], "0 dead-lettered face events shown"),
        (["publish-demo-events"], "published 3600 TaskConfirmedEvents to task.confirmed"),
        (["outbox"], "outbox: nothing pending"),
        (["rollback"], "task-photo-classifier has no @champion"),
        (["health"], "ok   Dagster instance"),
    ],
)
def test_commands_print_only_their_own_lines(tmp_path, args, first_line):
    """A fresh instance migrates its databases (alembic) and MLflow creates its store: none of
    that reaches the terminal; the command's own answer comes first."""
    _, output = run_command(tmp_path, *args)
    lines = output.splitlines()
    assert not [line for line in lines if LIBRARY_LINE.search(line)], output
    assert lines and lines[0].startswith(first_line), output


def test_verbose_shows_the_libraries_lines(tmp_path):
    result, output = run_command(tmp_path, "runs", "--verbose")
    assert result.returncode == 0, output
    assert "alembic.runtime.migration" in output
    assert "retraining runs at " in result.stdout


def test_face_dead_letters_are_shown_and_re_driven_on_their_own_queue(
    environment, tmp_path, caplog
):
    queue = environment()
    zero = json.dumps(
        {
            "event_id": "face-0",
            "schema_version": 1,
            "event_type": "FaceVectorRegisteredEvent",
            "helper_id": "helper-1",
            "vector": [0.0] * FACE_VECTOR_DIMENSION,
            "captured_at": "2025-03-01T12:00:00Z",
            "camera": "camera-a",
            "source": "auth",
        }
    ).encode()
    queue.publish_bodies(FACE_REGISTERED_QUEUE, [zero])
    queue.publish_bodies(Q, [b"not json"])
    store = TrainingDataStore(f"sqlite:///{tmp_path / 's.db'}")
    replicate(queue, store, 10, max_seconds=5, source=FACE_EVENTS)
    with caplog.at_level("INFO", logger="mlops_assets"):
        assert cli.main(["dead-letters", "--source", "face"]) == 0
        assert cli.main(["dead-letters", "--source", "face", "--requeue"]) == 0
    assert "vector: a zero vector" in caplog.text
    assert "1 dead-lettered face events shown" in caplog.text
    assert "moved 1 dead-lettered face events back onto the queue" in caplog.text
    for _ in range(50):  # RabbitMQ counts re-driven messages asynchronously
        if queue.depth(FACE_REGISTERED_QUEUE) == 1:
            break
        time.sleep(0.1)
    assert queue.depth(FACE_REGISTERED_QUEUE) == 1
    assert queue.depth(Q) == 1 and queue.dead_letters(Q) == []
