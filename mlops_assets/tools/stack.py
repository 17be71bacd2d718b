"""`make stack` / `make stack-down`: the production stack as local processes on 127.0.0.1.

Starts SeaweedFS (S3), the MLflow tracking server on PostgreSQL or MySQL, the inference server,
one Celery worker per step queue and `dagster dev` with its instance on PostgreSQL, against the
PostgreSQL, MySQL and RabbitMQ servers already running. Writes var/stack.env, which the
Makefile reads, so `make demo`, `make health` and the rest use the stack until `make stack-down`
stops what was started (by the pids in var/stack/pids).

Usage: python -m mlops_assets.tools.stack up | down
"""

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa
import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_assets.graph.execution import worker_config
from mlops_assets.settings import Settings
from mlops_assets.tools import processes
from mlops_assets.tools.stack_files import (
    mlflow_auth_environment,
    stack_secret,
    write_env_file,
    write_private,
)

log = logging.getLogger("mlops_assets.tools.stack")
ROOT = Path.cwd()
STATE = ROOT / "var" / "stack"
ENV_FILE = ROOT / "var" / "stack.env"
PIDS = STATE / "pids"
LOGS = STATE / "logs"
# Stopped in the reverse of this order.
PROCESSES = ("seaweedfs", "mlflow", "serving", "worker-steps", "worker-training", "dagster")


class PreflightError(RuntimeError):
    """The stack cannot start; nothing was started."""


class StackSettings(BaseSettings):
    """Where the servers that already run are, and the ports of the ones the stack starts."""

    model_config = SettingsConfigDict(extra="ignore")

    postgres_url: str = Field(default=processes.POSTGRES_URL, alias="POSTGRES_URL")
    mysql_url: str = Field(default=processes.MYSQL_URL, alias="MYSQL_URL")
    rabbitmq_url: str = Field(default=processes.RABBITMQ_URL, alias="RABBITMQ_URL")
    mlflow_backend: str = Field(
        default="postgresql",
        alias="MLOPS_STACK_MLFLOW_BACKEND",
        description="postgresql or mysql: where the MLflow server keeps its metadata.",
    )
    s3_port: int = Field(default=8333, alias="MLOPS_STACK_S3_PORT")
    mlflow_port: int = Field(default=5000, alias="MLOPS_STACK_MLFLOW_PORT")
    dagster_port: int = Field(default=3000, alias="MLOPS_STACK_DAGSTER_PORT")
    serving_port: int = Field(default=8000, alias="MLOPS_STACK_SERVING_PORT")
    bucket: str = Field(default="mlops", alias="MLOPS_STACK_BUCKET")
    database_prefix: str = Field(
        default="mlops",
        alias="MLOPS_STACK_DATABASE_PREFIX",
        description="Databases <prefix>_mlflow, _data, _dagster and _celery are created if absent.",
    )
    # Development defaults; SeaweedFS enforces whatever keys it is started with.
    mlflow_username: str = Field(default="mlops", alias="MLFLOW_TRACKING_USERNAME")
    mlflow_password: str | None = Field(
        default=None,
        alias="MLFLOW_TRACKING_PASSWORD",
        description="The MLflow admin's password; default one generated once into var/stack.",
    )
    admin_token: str | None = Field(
        default=None,
        alias="MLOPS_SERVING_ADMIN_TOKEN",
        description="The inference server's admin token; default one generated once.",
    )
    access_key: str = Field(default="mlops", validation_alias=AliasChoices("AWS_ACCESS_KEY_ID"))
    secret_key: str = Field(
        default="mlops-stack-secret", validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY")
    )


def _pid_alive(name: str) -> int | None:
    pid_file = PIDS / f"{name}.pid"
    if not pid_file.exists():
        return None
    pid, program = pid_file.read_text().split()[:2]
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # A recycled pid belongs to someone else: only signal the program we started.
    return int(pid) if program.encode() in cmdline else None


def _start(name: str, command: list[str], env: dict[str, str]) -> int:
    PIDS.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "ab") as out:
        # Own session: `down` signals the whole process group (servers spawn workers).
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (PIDS / f"{name}.pid").write_text(f"{process.pid} {Path(command[0]).name}\n")
    log.info("started %s (pid %d), log %s", name, process.pid, LOGS / f"{name}.log")
    return process.pid


def _wait(what: str, ready, timeout: float, pid: int) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s: see {LOGS}")
        if not _group_alive(pid):
            raise RuntimeError(f"{what} exited during start-up: see {LOGS}")
        time.sleep(0.5)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _bucket_ready(endpoint: str, settings: StackSettings) -> bool:
    from mlops_assets.backends.object_store import S3ObjectStore
    from mlops_assets.backends.storage_errors import ObjectStoreError

    env = processes.s3_client_environment(endpoint, settings.access_key, settings.secret_key)
    os.environ.update(env)
    try:
        S3ObjectStore(bucket=settings.bucket, endpoint_url=endpoint).check()
        return True
    except ObjectStoreError:
        return False


def up(settings: StackSettings, with_dagster: bool = True) -> dict[str, str]:
    """Starts the stack, writes var/stack.env and returns its variables."""
    running = [name for name in PROCESSES if _pid_alive(name)]
    if running:
        raise PreflightError(f"already running: {', '.join(running)}; run `make stack-down` first")
    for port in (settings.s3_port, settings.mlflow_port, settings.dagster_port):
        if processes.answers(processes.HOST, port):
            raise PreflightError(f"port {port} on {processes.HOST} is taken; choose another")
    server = (
        settings.postgres_url if settings.mlflow_backend == "postgresql" else settings.mysql_url
    )
    prefix = settings.database_prefix
    mlflow_db = processes.create_database(server, f"{prefix}_mlflow", exist_ok=True)
    data_db = processes.create_database(settings.postgres_url, f"{prefix}_data", exist_ok=True)
    dagster_db = processes.create_database(
        settings.postgres_url, f"{prefix}_dagster", exist_ok=True
    )
    # Where Celery workers leave step results: a database outlives a broker restart.
    celery_db = processes.create_database(settings.postgres_url, f"{prefix}_celery", exist_ok=True)

    endpoint = f"http://{processes.HOST}:{settings.s3_port}"
    s3_env = processes.s3_client_environment(endpoint, settings.access_key, settings.secret_key)
    ports = processes.WeedPorts.free(
        s3=settings.s3_port,
        avoid=(settings.mlflow_port, settings.serving_port, settings.dagster_port),
    )
    (STATE / "seaweedfs").mkdir(parents=True, exist_ok=True)
    pid = _start(
        "seaweedfs",
        processes.weed_mini_command(STATE / "seaweedfs", ports, settings.bucket),
        {"AWS_ACCESS_KEY_ID": settings.access_key, "AWS_SECRET_ACCESS_KEY": settings.secret_key},
    )
    _wait("SeaweedFS", lambda: _bucket_ready(endpoint, settings), 60, pid)

    tracking = f"http://{processes.HOST}:{settings.mlflow_port}"
    mlflow_password = settings.mlflow_password or stack_secret(STATE, "mlflow-password")
    command = processes.mlflow_server_command(
        f"s3://{settings.bucket}/mlflow", settings.mlflow_port, basic_auth=True
    )
    auth_env = mlflow_auth_environment(STATE, settings.mlflow_username, mlflow_password)
    server_env = {**s3_env, **processes.mlflow_server_environment(mlflow_db), **auth_env}
    pid = _start("mlflow", command, server_env)
    _wait("MLflow server", lambda: _http_ok(f"{tracking}/health"), 180, pid)

    dagster_home = STATE / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    variables = {
        "MLOPS_HOME": str(STATE),
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_POSTGRES_URL": dagster_db,
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_TRACKING_USERNAME": settings.mlflow_username,
        "MLFLOW_TRACKING_PASSWORD": mlflow_password,
        # The champion lock: an advisory lock on the MLflow server's own database.
        "MLOPS_REGISTRY_LOCK_URL": mlflow_db,
        "MLOPS_MLFLOW_UI_URL": tracking,
        "MLOPS_DATA_STORE_URL": data_db,
        "MLOPS_OBJECT_STORE_URL": f"s3://{settings.bucket}/datasets",
        # Steps' values and logs in S3: workers on other machines share no disk with this one.
        "MLOPS_STEP_VALUES_URL": f"s3://{settings.bucket}/dagster/values",
        "MLOPS_S3_ENDPOINT_URL": endpoint,
        "DAGSTER_COMPUTE_LOGS_BUCKET": settings.bucket,
        **s3_env,
        "RABBITMQ_URL": settings.rabbitmq_url,
        "MLOPS_CELERY_BACKEND_URL": os.environ.get("MLOPS_CELERY_BACKEND_URL", f"db+{celery_db}"),
        "MLOPS_SERVING_URL": f"http://{processes.HOST}:{settings.serving_port}",
        "MLOPS_SERVING_ADMIN_TOKEN": settings.admin_token
        or stack_secret(STATE, "serving-admin-token"),
    }
    write_env_file(ENV_FILE, variables)
    subprocess.run(
        processes.registry_pool_command(),
        env={**os.environ, **variables},
        check=True,
        capture_output=True,
    )

    # The inference server follows @champion on the stack; the deployment step calls it.
    serving = variables["MLOPS_SERVING_URL"]
    serving_env = {**variables, "MLOPS_SERVING_PORT": str(settings.serving_port)}
    pid = _start("serving", [sys.executable, "-m", "mlops_assets.serving"], serving_env)
    _wait("inference server", lambda: _http_ok(f"{serving}/health"), 180, pid)
    log.info("inference server: %s (OpenAPI at /docs)", serving)
    pipeline = Settings().model_copy(
        update={"celery_backend_url": variables["MLOPS_CELERY_BACKEND_URL"]}
    )
    start_workers(pipeline, settings.rabbitmq_url, variables)

    if with_dagster:
        dagster = f"http://{processes.HOST}:{settings.dagster_port}"
        command = [
            str(processes.venv_binary("dagster")),
            "dev",
            "-h",
            processes.HOST,
            "-p",
            str(settings.dagster_port),
            "-w",
            str(ROOT / "workspace.yaml"),
        ]
        pid = _start("dagster", command, variables)
        _wait("dagster dev", lambda: _http_ok(f"{dagster}/server_info"), 300, pid)
        log.info("Dagster UI: %s", dagster)
    log.info("MLflow UI: %s; S3: %s (bucket %s)", tracking, endpoint, settings.bucket)
    log.info("wrote %s; `make demo`, `make health` now use the stack", ENV_FILE)
    return variables


def start_workers(pipeline: Settings, broker: str, variables: dict[str, str]) -> None:
    """One Celery worker per step queue (MLOPS_EXECUTOR=celery sends steps to them), one step
    at a time each; on a GPU machine the training worker is the one to give the GPU."""
    config = STATE / "celery.yaml"
    broker = pipeline.celery_broker_url or broker
    document = worker_config(broker, pipeline.resolved_celery_backend_url, pipeline.celery_queue)
    write_private(config, yaml.safe_dump(document))
    path = processes.path_with_venv()
    for name, queue in (
        ("worker-steps", pipeline.celery_queue),
        ("worker-training", pipeline.celery_training_queue),
    ):
        log_file = LOGS / f"{name}.log"
        offset = log_file.stat().st_size if log_file.exists() else 0
        command = processes.celery_worker_command(config, [queue], name)
        pid = _start(name, command, {**variables, "PATH": path})
        _wait(
            f"Celery worker {name}",
            lambda log_file=log_file, offset=offset: b" ready." in log_file.read_bytes()[offset:],
            180,
            pid,
        )
        log.info("Celery worker %s consumes queue %s", name, queue)


def down(grace_s: float = 30) -> list[str]:
    """Stops every process `up` started (SIGTERM to its group, SIGKILL after `grace_s`)."""
    stopped = []
    for name in reversed(PROCESSES):
        pid = _pid_alive(name)
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _group_alive(pid):
                log.warning("%s (pid %d) ignored SIGTERM for %.0f s: killing", name, pid, grace_s)
                os.killpg(pid, signal.SIGKILL)
            stopped.append(name)
            log.info("stopped %s (pid %d)", name, pid)
        (PIDS / f"{name}.pid").unlink(missing_ok=True)
    ENV_FILE.unlink(missing_ok=True)
    return stopped


def _group_alive(pgid: int) -> bool:
    # Reap the leader if it is our child (during `up`): a zombie still counts as alive.
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_assets.tools.stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--no-dagster", action="store_true", help="do not start `dagster dev`")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "down":
        down()
        return 0
    try:
        up(StackSettings(), with_dagster=not args.no_dagster)
    except PreflightError as error:
        log.error("%s", error)
        return 1
    except (RuntimeError, TimeoutError, ValueError, sa.exc.OperationalError) as error:
        log.error("%s; stopping what started", error)
        down()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
