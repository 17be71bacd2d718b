"""TrainerPipesClient runs real trainer processes through a real Pipes session: both progress
dialects, a failing trainer, one that hangs, garbage output and a cancelled run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets_tests.support.trainer_probe import fake_trainer, materialize_probe


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def messages(instance, result) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(result.run_id)]


def failure_message(result) -> str:
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error
    return error.message + "".join(c.message for c in [error.cause] if c is not None)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def pids(pid_dir: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in pid_dir.glob("*.pid")}


def test_garbage_lines_are_ignored_with_a_warning_and_good_ones_still_count(instance):
    seen = []
    result = materialize_probe(fake_trainer("garbage"), instance, seen=seen)
    assert result.success
    assert [(p.epoch, p.total_epochs, p.metrics) for p in seen] == [(1, 3, {"val_accuracy": 0.75})]
    logged = messages(instance, result)
    warnings = [m for m in logged if "ignored a trainer stdout it could not read" in m]
    assert len(warnings) == 4, warnings
    (meta,) = result.asset_materializations_for_node("trainer_probe")
    assert json.loads(meta.metadata["run_meta"].value) == {"note": "extra"}


def test_native_pipes_messages_report_progress_logs_and_metadata(instance):
    seen = []
    result = materialize_probe(fake_trainer("pipes"), instance, seen=seen)
    assert result.success
    assert [p.epoch for p in seen] == [1, 2]
    logged = messages(instance, result)
    assert any("pipes trainer got extras ['hyperparameters']" in m for m in logged)
    assert any("ignored a trainer message it could not read" in m for m in logged)
    (materialization,) = result.asset_materializations_for_node("trainer_probe")
    assert materialization.metadata["trainer_flavour"].value == "pipes-fake"
    assert json.loads(materialization.metadata["run_meta"].value) == {"framework": "none"}


def test_a_trainer_that_exits_non_zero_fails_the_step_with_its_stderr_tail(instance):
    result = materialize_probe(fake_trainer("fail"), instance)
    assert not result.success
    message = failure_message(result)
    assert "exited with code 3" in message
    assert "CUDA out of memory (simulated)" in message
    assert "noise line 29" in message and "noise line 5\n" not in message


def test_a_trainer_that_cannot_start_says_which_setting_to_fix(instance):
    result = materialize_probe(["/nonexistent/train.py"], instance)
    assert not result.success
    assert "MLOPS_TRAINER_COMMAND" in failure_message(result)


def test_a_hanging_trainer_is_killed_with_its_children_at_the_timeout(instance, tmp_path):
    result = materialize_probe(
        fake_trainer("hang", "--pid-dir", str(tmp_path)), instance, timeout_s=8
    )
    assert not result.success
    message = failure_message(result)
    assert "ran past its timeout of 8 s" in message and "epoch 1/3" in message
    started = pids(tmp_path)
    assert set(started) == {"trainer", "child", "grandchild"}
    assert not [name for name, pid in started.items() if alive(pid)]


def test_a_cancelled_run_ends_the_trainer_and_its_children(tmp_path):
    run = subprocess.Popen(
        [sys.executable, "-m", "mlops_assets_tests.support.trainer_probe", "hang", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for _ in range(600):
            if len(pids(tmp_path)) == 3:
                break
            time.sleep(0.1)
        started = pids(tmp_path)
        assert set(started) == {"trainer", "child", "grandchild"}
        # What Dagster does to a run worker when a run is terminated from the UI.
        os.kill(run.pid, signal.SIGINT)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert "run failed" in out
    assert not [name for name, pid in started.items() if alive(pid)]


PIPELINE_SECRETS = {
    "RABBITMQ_URL": "amqp://mlops:broker-pw-1@127.0.0.1:5672/%2F",
    "MLOPS_DATA_STORE_URL": "postgresql://u:store-pw-1@127.0.0.1/data",
    "AWS_SECRET_ACCESS_KEY": "s3-secret-key-1",
    "MLOPS_SERVING_ADMIN_TOKEN": "admin-token-1",
    "MLOPS_ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/webhook-1",
    "MLOPS_MODEL_SIGNING_KEY": "signing-key-1",
}


def test_a_trainer_gets_a_minimal_environment_and_what_is_declared(instance, tmp_path, monkeypatch):
    for name, value in {**PIPELINE_SECRETS, "TRAINER_DECLARED": "yes"}.items():
        monkeypatch.setenv(name, value)
    seen = tmp_path / "environment.json"
    dump = f"import json, os; json.dump(dict(os.environ), open({str(seen)!r}, 'w'))"
    result = materialize_probe(
        [sys.executable, "-c", dump], instance, passthrough=["TRAINER_DECLARED"]
    )
    assert result.success
    environment = json.loads(seen.read_text())
    assert not set(PIPELINE_SECRETS) & set(environment)
    assert not [v for v in environment.values() if "-1" in v and "pw" in v]
    assert environment["TRAINER_DECLARED"] == "yes" and environment["PATH"] == os.environ["PATH"]
    assert "DAGSTER_PIPES_CONTEXT" in environment


def test_the_stderr_that_reaches_the_failure_is_redacted(instance, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3-secret-key-1")
    leak = tmp_path / "leaky_trainer.py"
    leak.write_text(
        "import os, sys\n"
        "sys.stderr.write('upload to http://mlops:tracking-pw-1@10.0.0.5:5000 failed; '\n"
        "    'password=db-pw-1; key ' + os.environ['AWS_SECRET_ACCESS_KEY'] + '\\n')\n"
        "sys.exit(3)\n"
    )
    result = materialize_probe(
        [sys.executable, str(leak)], instance, passthrough=["AWS_SECRET_ACCESS_KEY"]
    )
    assert not result.success
    message = failure_message(result)
    assert "exited with code 3" in message and "http://mlops:***@10.0.0.5:5000" in message
    for secret in ("tracking-pw-1", "db-pw-1", "s3-secret-key-1"):
        assert secret not in message
