"""The deploy/ files: the compose file parses (and validates where Docker Compose exists), the
example dagster.yaml gives a working Dagster instance on PostgreSQL, and `make stack` starts and
stops its processes."""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
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
    assert "--no-serve-artifacts" in services_["mlflow"]["command"]


# An exact version: a digest, a patch-level tag, PostgreSQL's minor on a named distribution
# (its versions have two parts) or a dated release.
PINNED = re.compile(
    r"@sha256:[0-9a-f]{64}$|:v?\d+\.\d+\.\d+|:\d+\.\d+-(bookworm|trixie)$|:RELEASE\.\d{4}-"
)


def test_compose_images_are_pinned_to_exact_versions():
    """Every image pulled from a registry is pinned; the product's own image is built here from
    this checkout (its `build` context), so its tag names a local build."""
    services_ = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    pulled = {name: s for name, s in services_.items() if "build" not in s}
    assert {"postgres", "rabbitmq", "minio", "minio-bucket", "databases"} <= set(pulled)
    for name, service in pulled.items():
        assert PINNED.search(service["image"]), f"{name}: {service['image']} floats"
    for name, service in services_.items():
        if "build" in service:
            build = service["build"]
            context = build["context"] if isinstance(build, dict) else build
            assert (DEPLOY / context).is_dir(), f"{name} builds from a missing {context}"


def test_the_mlflow_container_is_built_from_hashed_requirements_and_asks_for_a_user():
    mlflow = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["mlflow"]
    command = " ".join(mlflow["command"])
    assert "pip install" not in command and "--app-name basic-auth" in command
    assert "postgres:postgres" not in command  # the database URL is in the environment
    assert mlflow["environment"]["MLFLOW_DISABLE_TELEMETRY"] == "true"
    dockerfile = (DEPLOY / mlflow["build"]["context"] / "Dockerfile").read_text()
    assert PINNED.search(dockerfile.split("FROM ", 1)[1].split()[0])
    assert "--require-hashes -r /tmp/requirements.txt" in dockerfile
    requirements = (DEPLOY / "mlflow" / "requirements.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\\n\s+--hash=sha256:", requirements, re.M)
    assert {"mlflow", "flask-wtf", "psycopg2-binary", "boto3"} <= set(pins)


def test_the_lock_file_carries_a_hash_for_every_pin():
    lock = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^[A-Za-z0-9_.-]+==", lock, re.M)
    hashed = re.findall(r"^[A-Za-z0-9_.-]+==[^\n]*\\\n\s+--hash=sha256:", lock, re.M)
    assert len(pins) > 100 and len(hashed) == len(pins)
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r $(LOCK)" in makefile and "--generate-hashes" in makefile
    assert "install --quiet --upgrade pip" not in makefile and "pip==$(PIP_VERSION)" in makefile


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

        # What holds passwords is owner-only; the MLflow server's database is not on its
        # command line, and MLflow answers only a signed-in client.
        for written in ("stack.env", "stack/celery.yaml", "stack/secrets/mlflow-password"):
            assert stat.S_IMODE((tmp_path / "var" / written).stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "var" / "stack").stat().st_mode) == 0o700
        mlflow_pid = (tmp_path / "var" / "stack" / "pids" / "mlflow.pid").read_text().split()[0]
        cmdline = Path(f"/proc/{mlflow_pid}/cmdline").read_bytes().decode()
        assert f"{prefix}_mlflow" not in cmdline and "basic-auth" in cmdline
        search = f"{variables['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/experiments/search"
        assert httpx.get(search, params={"max_results": 1}).status_code == 401
        signed_in = (variables["MLFLOW_TRACKING_USERNAME"], variables["MLFLOW_TRACKING_PASSWORD"])
        assert httpx.get(search, params={"max_results": 1}, auth=signed_in).status_code == 200
        assert len(variables["MLOPS_SERVING_ADMIN_TOKEN"]) >= 40
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
        for job in ("task_photos_retrain_job", "task_photos_rollback_job")
        for node in defs.resolve_job_def(job).graph.nodes
        if node.definition.pool
    }
    assert writers == {
        "task_photos__champion_model": REGISTRY_POOL,
        "task_photos__deployment": REGISTRY_POOL,
        "task_photos_rollback_champion": REGISTRY_POOL,
    }


def test_mlflow_telemetry_is_off_wherever_the_project_starts_mlflow():
    shown = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "-", "show"],
        input=(ROOT / "Makefile").read_text() + "\nshow:\n\t@echo $$MLFLOW_DISABLE_TELEMETRY\n",
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_DISABLE_TELEMETRY"},
        capture_output=True,
        text=True,
    )
    assert shown.stdout.strip() == "true", shown.stderr
    assert processes.MLFLOW_SERVER_ENVIRONMENT["MLFLOW_DISABLE_TELEMETRY"] == "true"
