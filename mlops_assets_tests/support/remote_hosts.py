"""Hosts that share no disk: an orchestrator and Celery workers that meet only in PostgreSQL,
RabbitMQ and S3.

Each host is a folder of its own: its working directory, a DAGSTER_HOME holding only the stack's
`dagster.yaml`, its own MLOPS_HOME. Where the kernel lets this process make a mount namespace
(`unshare --mount`), a worker also runs with the orchestrator's folder covered by an empty tmpfs,
so it cannot read or write what the orchestrator keeps there.
"""

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlops_assets.backends import factory
from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    PIPELINE_FAILED_QUEUE,
    TASK_CONFIRMED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
)
from mlops_assets.tools import processes
from mlops_assets_tests.support.services import RABBITMQ_URL
from mlops_assets_tests.support.stack_fixtures import (
    POSTGRES_URL,
    MlflowServer,
    SeaweedFS,
    create_database_or_report,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@cache
def can_hide() -> bool:
    """Whether this process may make a private mount namespace and mount a tmpfs in it."""
    probe = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "mount",
            "-t",
            "tmpfs",
            "none",
            "/mnt",
        ],
        capture_output=True,
    )
    return shutil.which("unshare") is not None and probe.returncode == 0


def hiding(folder: Path, command: list[str]) -> list[str]:
    """`command` in a mount namespace of its own where `folder` is an empty tmpfs."""
    script = 'mount -t tmpfs none "$0" && exec "$@"'
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        str(folder),
        *command,
    ]


def host_environment(shared: dict[str, str], root: Path) -> dict[str, str]:
    """The environment of one host under `root`: `shared` plus its own homes."""
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "dagster.yaml", root / "dagster" / "dagster.yaml")
    return processes.embedded_environment(
        root / "home", DAGSTER_HOME=str(root / "dagster"), **shared
    )


@dataclass
class SharedServices:
    """What the hosts share, as the environment every host gets."""

    environment: dict[str, str]
    mlflow: MlflowServer
    databases: list[str]
    event_prefix: str

    def close(self) -> None:
        self.mlflow.stop()
        queue = factory.event_queue_for(RABBITMQ_URL, "", self.event_prefix)
        for name in (
            TASK_CONFIRMED_QUEUE,
            TRAINING_COMPLETED_QUEUE,
            MODEL_EVENTS_QUEUE,
            PIPELINE_FAILED_QUEUE,
        ):
            queue.remove(name)
        queue.close()
        for url in self.databases:
            processes.drop_database(url)


@contextmanager
def shared_services(weed: SeaweedFS, folder: Path) -> Iterator[SharedServices]:
    """PostgreSQL databases (Dagster instance, Celery results, training data, MLflow), an MLflow
    server, event queues and S3 prefixes of this test only. boto3 runs with its defaults: no
    checksum settings (SeaweedFS takes its checksums)."""
    tag = uuid.uuid4().hex[:8]
    databases = [create_database_or_report(POSTGRES_URL, "PostgreSQL") for _ in range(4)]
    dagster_db, celery_db, data_db, mlflow_db = databases
    s3 = {name: value for name, value in weed.environment().items() if "CHECKSUM" not in name}
    mlflow = MlflowServer(
        backend_store_uri=mlflow_db,
        artifact_root=f"s3://{weed.bucket}/mlflow-{tag}",
        environment=s3,
        log=folder / "mlflow.log",
    )
    services = SharedServices(
        environment={
            **s3,
            "DAGSTER_POSTGRES_URL": dagster_db,
            "DAGSTER_COMPUTE_LOGS_BUCKET": weed.bucket,
            "MLOPS_S3_ENDPOINT_URL": weed.endpoint_url,
            "MLOPS_CELERY_BACKEND_URL": f"db+{celery_db}",
            "MLOPS_DATA_STORE_URL": data_db,
            "MLOPS_OBJECT_STORE_URL": f"s3://{weed.bucket}/datasets-{tag}",
            "MLOPS_STEP_VALUES_URL": f"s3://{weed.bucket}/values-{tag}",
            "MLOPS_EXPERIMENT": f"remote-{tag}",
            "MLOPS_MODEL_NAME": f"remote-model-{tag}",
            "RABBITMQ_URL": RABBITMQ_URL,
            "MLOPS_EVENT_QUEUE_PREFIX": f"test-{tag}.",
        },
        mlflow=mlflow,
        databases=databases,
        event_prefix=f"test-{tag}.",
    )
    folder.mkdir(parents=True, exist_ok=True)
    try:
        mlflow.start()
        services.environment["MLFLOW_TRACKING_URI"] = mlflow.url
        services.environment["MLOPS_MLFLOW_UI_URL"] = mlflow.url
        yield services
    finally:
        services.close()
