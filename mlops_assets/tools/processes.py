"""Command lines and databases of the production stack's own processes.

`make stack`, the integration tests and the stack benchmark start SeaweedFS and the MLflow
server from these same functions, so what is tested is what users run. Everything binds
127.0.0.1 and every port is set explicitly: `weed mini` silently moves a busy port otherwise.
"""

import os
import socket
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import sqlalchemy as sa

from mlops_assets.constants import REGISTRY_POOL

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
HOST = "127.0.0.1"


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Says whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def venv_binary(name: str) -> Path:
    """A console script installed next to this interpreter (`weed`, `mlflow`, `dagster`)."""
    return Path(sys.executable).parent / name


def path_with_venv() -> str:
    """PATH with this virtual environment's bin folder first (`dagster-celery` runs `celery`
    from PATH)."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


CONFIGURATION_PREFIXES = ("MLOPS_", "MLFLOW_", "DAGSTER_")


def embedded_environment(home: Path, **variables: str) -> dict[str, str]:
    """The environment of a run, a worker or a daemon on embedded stores under `home`.

    This process's environment without any MLOPS_*, MLFLOW_*, DAGSTER_* or RABBITMQ_URL
    setting (a tracking URI exported by an earlier MLflow call must not leak into it), with
    DAGSTER_HOME at `home/dagster`, `path_with_venv()` and `variables` on top.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(CONFIGURATION_PREFIXES) and name != "RABBITMQ_URL"
    }
    env.update(
        MLOPS_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        PATH=path_with_venv(),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(variables)
    return env


@dataclass(frozen=True)
class WeedPorts:
    """Every port `weed mini` opens; each is passed on the command line."""

    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    admin: int
    admin_grpc: int
    iceberg: int
    lance: int

    @classmethod
    def free(cls, s3: int | None = None, avoid: Iterable[int] = ()) -> "WeedPorts":
        """Picks free ports, keeping `s3` if given.

        Args:
            s3: the S3 port to keep.
            avoid: ports promised to other servers that have not bound them yet (a free port
                is only free until someone binds it, so the kernel may hand it out again).
        """
        taken = set(avoid) | ({s3} if s3 is not None else set())
        ports = {}
        for field in fields(cls):
            if field.name == "s3" and s3 is not None:
                ports["s3"] = s3
                continue
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            ports[field.name] = port
        return cls(**ports)


def weed_mini_command(data_dir: Path, ports: WeedPorts, bucket: str) -> list[str]:
    """`weed mini` on 127.0.0.1 with every port set and `bucket` created.

    S3 credentials are read by SeaweedFS from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in its
    environment; without them its S3 API is open to anyone.
    """
    return [
        str(venv_binary("weed")),
        "mini",
        f"-dir={data_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-s3.port={ports.s3}",
        f"-s3.port.grpc={ports.s3_grpc}",
        f"-master.port={ports.master}",
        f"-master.port.grpc={ports.master_grpc}",
        f"-volume.port={ports.volume}",
        f"-volume.port.grpc={ports.volume_grpc}",
        f"-filer.port={ports.filer}",
        f"-filer.port.grpc={ports.filer_grpc}",
        f"-admin.port={ports.admin}",
        f"-admin.port.grpc={ports.admin_grpc}",
        f"-s3.port.iceberg={ports.iceberg}",
        f"-s3.port.lance={ports.lance}",
        "-webdav=false",
        "-master.telemetry=false",
        f"-bucket={bucket}",
    ]


def s3_client_environment(endpoint_url: str, access_key: str, secret_key: str) -> dict[str, str]:
    """Environment for boto3 and MLflow's S3 artifact store against a non-AWS endpoint."""
    return {
        "MLFLOW_S3_ENDPOINT_URL": endpoint_url,
        "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        # boto3 >= 1.36 adds CRC checksums by default; S3-compatible servers may reject them.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }


def mlflow_server_command(artifact_root: str, port: int, basic_auth: bool = False) -> list[str]:
    """The MLflow tracking server with artifacts going straight to S3; its database URL comes
    from `mlflow_server_environment` (a command line is readable by every local user).

    `--no-serve-artifacts`: clients read and write `s3://…` themselves through boto3, so the
    server never proxies model bytes. One worker: one writer process for the database.
    `basic_auth`: MLflow's users and permissions (`--app-name basic-auth`, the `mlflow[auth]`
    extra); clients send MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
    """
    command = [
        str(venv_binary("mlflow")),
        "server",
        "--default-artifact-root",
        artifact_root,
        "--no-serve-artifacts",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    return [*command, "--app-name", "basic-auth"] if basic_auth else command


# MLflow 3 starts a job runner with seven huey consumer processes for GenAI scorers; the
# pipeline uses none of it. Its telemetry is on by default and reports to an outside server.
MLFLOW_SERVER_ENVIRONMENT = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


def mlflow_server_environment(backend_store_uri: str) -> dict[str, str]:
    """The server's environment: its database URL (password included) and the switches above."""
    return {"MLFLOW_BACKEND_STORE_URI": backend_store_uri, **MLFLOW_SERVER_ENVIRONMENT}


def database_url(server_url: str, database: str) -> str:
    """The URL of `database` on the server of `server_url`."""
    url = sa.make_url(server_url).set(database=database)
    return url.render_as_string(hide_password=False)


def create_database(server_url: str, database: str | None = None, exist_ok: bool = False) -> str:
    """Creates a database on a PostgreSQL or MySQL server.

    Args:
        server_url: SQLAlchemy URL of any database on the server we may connect to.
        database: the name; None makes a unique `mlops_test_…` one.
        exist_ok: keep an existing database instead of failing.

    Returns:
        The new database's URL.
    """
    name = database or f"mlops_test_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    quoted = engine.dialect.identifier_preparer.quote(name)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                present = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).scalar()
                if not present:
                    conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
                elif not exist_ok:
                    raise ValueError(f"database {name} exists")
            else:
                guard = "IF NOT EXISTS " if exist_ok else ""
                conn.execute(sa.text(f"CREATE DATABASE {guard}{quoted}"))
    finally:
        engine.dispose()
    return database_url(server_url, name)


def drop_database(database_url_: str) -> None:
    """Drops the database a URL names, disconnecting its sessions on PostgreSQL."""
    url = sa.make_url(database_url_)
    admin_db = "postgres" if url.get_backend_name() == "postgresql" else None
    engine = sa.create_engine(url.set(database=admin_db), isolation_level="AUTOCOMMIT")
    quoted = engine.dialect.identifier_preparer.quote(url.database)
    force = " WITH (FORCE)" if engine.dialect.name == "postgresql" else ""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
    finally:
        engine.dispose()


def celery_worker_command(config_yaml: Path, queues: Iterable[str], name: str) -> list[str]:
    """A `dagster-celery` worker, one step at a time.

    Args:
        config_yaml: the `execution.config` the executor uses (`graph.execution.worker_config`).
        queues: the Celery queues it consumes (at most four).
        name: the worker's node name (unique per host; `@%h` is appended).

    `dagster-celery` runs `celery` from PATH: put the virtual environment's bin folder on it.
    """
    return [
        str(venv_binary("dagster-celery")),
        "worker",
        "start",
        "-A",
        "mlops_assets.graph.celery_worker",
        "-y",
        str(config_yaml),
        # One comma-separated -q: celery keeps only the last of several -Q options.
        "-q",
        ",".join(queues),
        "-n",
        name,
        "--",
        "--concurrency=1",
    ]


def registry_pool_command() -> list[str]:
    """Stores the registry pool's limit (1) in the Dagster instance of DAGSTER_HOME.

    The instance's `default_limit` reaches a pool only after the run queue first sees it, so two
    runs queued together on a fresh instance could both start; a stored limit holds from the first.
    """
    return [str(venv_binary("dagster")), "instance", "concurrency", "set", REGISTRY_POOL, "1"]
