"""Celery workers on hosts that share no disk with the orchestrator: only PostgreSQL (the Dagster
instance, the Celery results, the training data, MLflow's metadata), RabbitMQ and S3 (step
values, step logs, snapshots, models).

Each host is a folder with its own working directory, DAGSTER_HOME (the stack's `dagster.yaml`
only) and MLOPS_HOME; a worker also runs with the orchestrator's folder hidden behind an empty
tmpfs in its own mount namespace where the sandbox allows `unshare --mount`.
"""

import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

import mlops_assets
from mlops_assets.backends import factory
from mlops_assets.settings import Settings
from mlops_assets_tests.graph.test_execution import MONTH, RUN_CONFIG, RUN_TIMEOUT_S
from mlops_assets_tests.support.celery_workers import (
    broker_or_skip,
    celery_workers,
    champion_materialization,
    execute_command,
    queue_depth,
    worker_of_steps,
)
from mlops_assets_tests.support.photo_graph import PHOTO, node
from mlops_assets_tests.support.remote_hosts import can_hide, host_environment, shared_services

pytestmark = [pytest.mark.integration, pytest.mark.model]

SHARED_VARIABLES = (
    "DAGSTER_POSTGRES_URL",
    "DAGSTER_COMPUTE_LOGS_BUCKET",
    "MLOPS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
)


@pytest.fixture(scope="module")
def shared(seaweedfs, tmp_path_factory, demo_records):
    """The services of this module's tests, with the demo tasks in the shared data store."""
    broker_or_skip()
    with shared_services(seaweedfs, tmp_path_factory.mktemp("shared")) as services:
        store = factory.data_store(
            Settings(data_store_url=services.environment["MLOPS_DATA_STORE_URL"])
        )
        store.insert(demo_records)
        store.close()
        yield services


class Deployment:
    """One orchestrator and the hosts of its workers, each in a folder of `root`."""

    def __init__(self, shared, root: Path, seaweedfs, monkeypatch, **variables: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.variables = {
            **shared.environment,
            "MLOPS_EXECUTOR": "celery",
            "MLOPS_CELERY_BROKER_URL": shared.environment["RABBITMQ_URL"],
            "MLOPS_CELERY_QUEUE": f"mlops-test-{tag}-steps",
            "MLOPS_CELERY_TRAINING_QUEUE": f"mlops-test-{tag}-training",
            "MLOPS_RETRY_DELAY_S": "0",
            # Each test its own model and step-values prefix on the shared servers.
            "MLOPS_MODEL_NAME": f"remote-model-{tag}",
            "MLOPS_EXPERIMENT": f"remote-{tag}",
            "MLOPS_STEP_VALUES_URL": f"s3://{seaweedfs.bucket}/values-{tag}",
            "MLOPS_OBJECT_STORE_URL": f"s3://{seaweedfs.bucket}/datasets-{tag}",
            **variables,
        }
        self.root, self.weed = root, seaweedfs
        self.orchestrator = root / "orchestrator"
        self.env = host_environment(self.variables, self.orchestrator)
        self.config = root / "run.yaml"
        self.config.write_text(yaml.safe_dump(RUN_CONFIG))
        # This process reads the instance (PostgreSQL) and the step logs (S3) as the UI would.
        for name in SHARED_VARIABLES:
            monkeypatch.setenv(name, self.env[name])

    def host(self, name: str, **overrides: str | None) -> tuple[dict[str, str], Path]:
        """A worker host's environment and folder; an override of None removes a variable."""
        env = host_environment(self.variables, self.root / name)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env, self.root / name

    def workers(self, name: str, **overrides: str | None):
        env, folder = self.host(name, **overrides)
        return celery_workers(env, folder, hide=self.orchestrator if can_hide() else None)

    def queues(self) -> tuple[str, str]:
        return self.env["MLOPS_CELERY_QUEUE"], self.env["MLOPS_CELERY_TRAINING_QUEUE"]

    def start_run(self) -> subprocess.Popen:
        # Earlier tests' runs share the instance: this deployment's run is the one after them.
        with self.instance() as instance:
            self.earlier = {run.run_id for run in instance.get_runs()}
        return subprocess.Popen(
            execute_command(MONTH, self.config),
            cwd=self.orchestrator,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_until_executing(self, run: subprocess.Popen, step: str) -> list[str]:
        """Waits until a worker executes `step` of the newest run; returns who took it."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        with self.instance() as instance:
            while time.monotonic() < deadline:
                assert run.poll() is None, run.stderr.read().decode()[-4000:]
                runs = [r for r in instance.get_runs() if r.run_id not in self.earlier]
                taken = runs and worker_of_steps(instance, runs[0].run_id).get(step)
                if taken:
                    return taken
                time.sleep(0.5)
        raise AssertionError(f"no worker took {step} in {RUN_TIMEOUT_S} s")

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.orchestrator / "dagster"))

    def registry(self):
        return factory.registry(
            Settings(
                tracking_uri=self.env["MLFLOW_TRACKING_URI"],
                model_name=self.env["MLOPS_MODEL_NAME"],
            )
        )

    def step_values(self) -> list[str]:
        prefix = self.env["MLOPS_STEP_VALUES_URL"].removeprefix(f"s3://{self.weed.bucket}/")
        return self.weed.keys(prefix + "/")

    def storage_files(self) -> list[Path]:
        """Files the run left in the orchestrator's $DAGSTER_HOME/storage."""
        return [p for p in (self.orchestrator / "dagster" / "storage").rglob("*") if p.is_file()]


def _step_log(instance: dg.DagsterInstance, run_id: str, step: str) -> str:
    """A step's captured stderr as the UI reads it: through the instance's log manager."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.LOGS_CAPTURED):
        captured = record.dagster_event.logs_captured_data
        if step in captured.step_keys:
            log_key = [run_id, "compute_logs", captured.file_key]
            data = instance.compute_log_manager.get_log_data(log_key)
            return (data.stderr or b"").decode()
    raise AssertionError(f"no captured logs for {step}")


def _errors(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step, error) of every step event of the run that carries an error."""
    errors = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        error = event and getattr(event.event_specific_data, "error", None)
        if error is not None and event.step_key is not None:
            errors.append((event.step_key, error.to_string()))
    return errors


def _newest_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    return instance.get_runs(limit=1)[0]


def test_retrain_with_every_step_on_a_host_without_the_shared_disk(
    shared, seaweedfs, tmp_path, definitions, seeded_store, monkeypatch
):
    with dg.DagsterInstance.ephemeral() as instance:
        job = definitions.resolve_job_def(PHOTO.retrain_job)
        local = job.execute_in_process(
            run_config=RUN_CONFIG, instance=instance, partition_key=MONTH
        )
        expected = champion_materialization(instance, local.run_id)

    deployment = Deployment(shared, tmp_path, seaweedfs, monkeypatch)
    with deployment.workers("host-a") as workers:
        workers.start("host-a", *deployment.queues())
        run = deployment.start_run()
        _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
        worker_log = workers.log("host-a")
    assert run.returncode == 0, stderr.decode()[-4000:] + worker_log

    with deployment.instance() as instance:
        dagster_run = _newest_run(instance)
        assert dagster_run.status == dg.DagsterRunStatus.SUCCESS
        decided = champion_materialization(instance, dagster_run.run_id)
        steps = worker_of_steps(instance, dagster_run.run_id)
        snapshot_log = _step_log(instance, dagster_run.run_id, node("training_data"))
    assert {
        node("training_data"),
        node("trained_model"),
        node("champion_model"),
        node("deployment"),
    } <= set(steps)
    assert all(taken == ["host-a"] for taken in steps.values()), steps
    assert decided["decision"] == expected["decision"] == "promoted"
    assert decided["challenger_accuracy"] == pytest.approx(expected["challenger_accuracy"])
    # The values went through S3, the logs too; nothing through the orchestrator's disk.
    values = deployment.step_values()
    assert any(key.endswith(f"/trained_model/{MONTH}") for key in values), values
    # The snapshot is handed on by its object-store key, not as a pickle of its rows.
    assert not any("/training_data/" in key for key in values), values
    snapshots = deployment.env["MLOPS_OBJECT_STORE_URL"].removeprefix(f"s3://{seaweedfs.bucket}/")
    handoff = f"{snapshots}/{PHOTO.key('training_data').to_user_string()}/handoff/{MONTH}.json"
    assert handoff in seaweedfs.keys(snapshots + "/")
    assert f"snapshot {MONTH}" in snapshot_log, snapshot_log[-2000:]
    assert seaweedfs.keys(f"dagster/compute-logs/storage/{dagster_run.run_id}/")
    assert deployment.storage_files() == []


def test_a_host_killed_mid_step_hands_the_step_to_another_host(
    shared, seaweedfs, tmp_path, monkeypatch
):
    deployment = Deployment(shared, tmp_path, seaweedfs, monkeypatch, MLOPS_RETRY_MAX_RETRIES="0")
    deployment.config.write_text(
        yaml.safe_dump(
            {"ops": {**RUN_CONFIG["ops"], node("trained_model"): {"config": {"epochs": 60}}}}
        )
    )
    steps_queue, training_queue = deployment.queues()
    with deployment.workers("host-a") as host_a, deployment.workers("host-b") as host_b:
        host_a.start("host-a", steps_queue, training_queue)
        run = deployment.start_run()
        assert deployment.wait_until_executing(run, node("trained_model")) == ["host-a"]
        host_a.kill("host-a", signal.SIGKILL)
        host_b.start("host-b", steps_queue, training_queue)
        _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
        assert queue_depth(training_queue) == 0
    assert run.returncode == 0, stderr.decode()[-4000:]

    with deployment.instance() as instance:
        dagster_run = _newest_run(instance)
        assert dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert worker_of_steps(instance, dagster_run.run_id)[node("trained_model")] == [
            "host-a",
            "host-b",
        ]
        decided = champion_materialization(instance, dagster_run.run_id)
    assert deployment.registry().champion().version == str(decided["champion_version"])
    assert deployment.storage_files() == []


def _other_code(folder: Path) -> dict[str, str]:
    """A copy of the package with one changed line, first on the worker's import path: the
    host of a worker deployed from other code."""
    copy = folder / "code" / "mlops_assets"
    shutil.copytree(
        Path(mlops_assets.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    with (copy / "constants.py").open("a") as constants:
        constants.write("# a change deployed to this host only\n")
    return {"PYTHONPATH": str(folder / "code")}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "AWS_ACCESS_KEY_ID"),
        ({"MLOPS_STEP_VALUES_URL": "s3://no-such-bucket/values"}, "MLOPS_STEP_VALUES_URL"),
        ("other-code", "deploy the same code"),
    ],
    ids=["no-credentials", "other-bucket", "other-code"],
)
def test_a_host_started_without_the_run_settings_fails_the_first_step_cleanly(
    shared, seaweedfs, tmp_path, monkeypatch, overrides, named
):
    deployment = Deployment(shared, tmp_path, seaweedfs, monkeypatch)
    if overrides == "other-code":
        overrides = _other_code(tmp_path / "host-a")
    with deployment.workers("host-a", **overrides) as workers:
        workers.start("host-a", *deployment.queues())
        run = deployment.start_run()
        run.communicate(timeout=RUN_TIMEOUT_S)
    assert run.returncode != 0

    with deployment.instance() as instance:
        dagster_run = _newest_run(instance)
        assert dagster_run.status == dg.DagsterRunStatus.FAILURE
        errors = _errors(instance, dagster_run.run_id)
    # The first step failed as its resources started (before it computed or wrote anything).
    assert {step for step, _ in errors} == {node("training_data")}, errors
    assert any(named in message for _, message in errors), errors
    assert deployment.registry().champion() is None
    assert deployment.step_values() == []
    snapshots = deployment.env["MLOPS_OBJECT_STORE_URL"].removeprefix(f"s3://{seaweedfs.bucket}/")
    assert seaweedfs.keys(snapshots + "/") == []
