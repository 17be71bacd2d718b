"""The deploy/ files: the compose file parses (and validates where Docker Compose exists), the
example dagster.yaml gives a working Dagster instance on PostgreSQL, and `make stack` starts and
stops its processes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from mlops_assets.constants import REGISTRY_POOL
from mlops_assets.definitions import defs
from mlops_assets.tools import processes
from mlops_assets_tests.support.celery_workers import delete_queues
from mlops_assets_tests.support.services import RABBITMQ_URL
from mlops_assets_tests.support.stack_fixtures import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_compose_file_is_minimal_and_local():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services_ = compose["services"]
    assert {"postgres", "rabbitmq", "minio", "mlflow"} <= set(services_)
    for name, service in services_.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin a public tag"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    assert "--no-serve-artifacts" in services_["mlflow"]["command"][-1]


def test_compose_env_matches_settings():
    variables = dict(
        line.split("=", 1)
        for line in (DEPLOY / "compose.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert variables["MLOPS_OBJECT_STORE_URL"].startswith("s3://mlops/")
    assert variables["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"


def test_compose_config_validates_where_docker_compose_exists():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"]).returncode != 0:
        pytest.skip("docker compose is not installed here: the YAML parse above is the check")
    result = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_example_dagster_yaml_runs_on_postgres(
    data_store_database, seaweedfs, tmp_path, monkeypatch
):
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", data_store_database)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", seaweedfs.bucket)
    monkeypatch.setenv("MLOPS_S3_ENDPOINT_URL", seaweedfs.endpoint_url)
    for name, value in seaweedfs.environment().items():
        monkeypatch.setenv(name, value)

    @dg.asset
    def probe(context: dg.AssetExecutionContext) -> int:
        context.log.info("probe says hello")
        return 1

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([probe], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id) is not None
        # The step's output went to S3, and the instance reads it back from there.
        (captured,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.LOGS_CAPTURED)
        log_key = [
            result.run_id,
            "compute_logs",
            captured.dagster_event.logs_captured_data.file_key,
        ]
        stderr = instance.compute_log_manager.get_log_data(log_key).stderr.decode()
    assert "probe says hello" in stderr
    assert seaweedfs.keys(f"dagster/compute-logs/storage/{result.run_id}/")
    engine = sa.create_engine(data_store_database)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1
    engine.dispose()


@pytest.mark.integration
def test_make_stack_starts_and_stops_its_processes(tmp_path):
    """`python -m mlops_assets.tools.stack up/down` without dagster dev, on free ports."""
    (tmp_path / "deploy").symlink_to(DEPLOY)
    prefix = f"mlops_test_{tmp_path.name[-8:].replace('-', '_')}"
    ports = {
        "MLOPS_STACK_S3_PORT": str(processes.free_port()),
        "MLOPS_STACK_MLFLOW_PORT": str(processes.free_port()),
        "MLOPS_STACK_DAGSTER_PORT": str(processes.free_port()),
        "MLOPS_STACK_SERVING_PORT": str(processes.free_port()),
        "MLOPS_STACK_DATABASE_PREFIX": prefix,
        # The stack's workers consume queues of this test only (the broker is shared).
        "MLOPS_CELERY_QUEUE": f"{prefix}_steps",
        "MLOPS_CELERY_TRAINING_QUEUE": f"{prefix}_training",
    }
    env = {**_clean_environment(), **ports, "POSTGRES_URL": POSTGRES_URL, "PYTHONPATH": str(ROOT)}
    stack = [sys.executable, "-m", "mlops_assets.tools.stack"]
    try:
        up = subprocess.run(
            [*stack, "up", "--no-dagster"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert up.returncode == 0, up.stdout + up.stderr
        variables = dict(
            line.split("=", 1)
            for line in (tmp_path / "var" / "stack.env").read_text().splitlines()
            if not line.startswith("#")
        )
        assert variables["MLFLOW_TRACKING_URI"].endswith(ports["MLOPS_STACK_MLFLOW_PORT"])
        assert variables["MLOPS_DATA_STORE_URL"].endswith(f"/{prefix}_data")
        pids = sorted(p.name for p in (tmp_path / "var" / "stack" / "pids").iterdir())
        assert pids == [
            "mlflow.pid",
            "seaweedfs.pid",
            "serving.pid",
            "worker-steps.pid",
            "worker-training.pid",
        ]
        serving = variables["MLOPS_SERVING_URL"]
        assert serving.endswith(ports["MLOPS_STACK_SERVING_PORT"])
        # No champion yet: alive, not ready.
        assert processes.answers(processes.HOST, int(ports["MLOPS_STACK_SERVING_PORT"]))

        health = subprocess.run(
            [sys.executable, "-m", "mlops_assets.tools.cli", "health"],
            env={**env, **variables},
            capture_output=True,
            text=True,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        health = subprocess.run(
            [sys.executable, "-m", "mlops_assets.tools.cli", "health"],
            env={**env, **variables, "MLOPS_EXECUTOR": "celery"},
            capture_output=True,
            text=True,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        workers = next(line for line in health.stdout.splitlines() if "step executor" in line)
        assert f"{prefix}_steps: worker-steps@" in workers
        assert f"{prefix}_training: worker-training@" in workers

        again = subprocess.run(
            [*stack, "up", "--no-dagster"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        down = subprocess.run([*stack, "down"], cwd=tmp_path, env=env, capture_output=True)
        delete_queues(
            RABBITMQ_URL, ports["MLOPS_CELERY_QUEUE"], ports["MLOPS_CELERY_TRAINING_QUEUE"]
        )
        for suffix in ("mlflow", "data", "dagster", "celery"):
            processes.drop_database(processes.database_url(POSTGRES_URL, f"{prefix}_{suffix}"))
    assert down.returncode == 0
    assert not (tmp_path / "var" / "stack.env").exists()
    for port in ports.values():
        if port.isdigit():
            assert not processes.answers(processes.HOST, int(port))


def _clean_environment() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPS_", "MLFLOW_", "AWS_", "DAGSTER_"))
    }


@pytest.mark.parametrize("config", ["dagster-local.yaml", "dagster.yaml"])
def test_instances_let_one_registry_writer_run_at_a_time(tmp_path, monkeypatch, config):
    settings = yaml.safe_load((DEPLOY / config).read_text())
    assert settings["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert settings["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}
    shutil.copy(DEPLOY / "dagster-local.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        pools = instance.get_concurrency_config().pool_config
    assert pools.pool_granularity.value == "run" and pools.default_pool_limit == 1


def test_every_registry_writer_is_in_the_pool():
    writers = {
        node.name: node.definition.pool
        for job in ("retrain_job", "rollback_champion_job")
        for node in defs.resolve_job_def(job).graph.nodes
        if node.definition.pool
    }
    assert writers == {
        "champion_model": REGISTRY_POOL,
        "deployment": REGISTRY_POOL,
        "rollback_champion": REGISTRY_POOL,
    }
