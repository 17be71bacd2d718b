"""The stack's command lines and databases: loopback only, every port explicit, own databases."""

from dataclasses import astuple
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlops_assets.tools import processes
from mlops_assets_tests.support.services import service_missing
from mlops_assets_tests.support.stack_fixtures import POSTGRES_URL


def test_weed_ports_are_distinct_free_and_avoid_promised_ones():
    promised = [processes.free_port() for _ in range(3)]
    ports = processes.WeedPorts.free(s3=18333, avoid=promised)
    values = astuple(ports)
    assert ports.s3 == 18333
    assert len(set(values)) == len(values)
    assert not set(values) & set(promised)


def test_weed_mini_binds_loopback_and_sets_every_port(tmp_path):
    ports = processes.WeedPorts.free()
    command = processes.weed_mini_command(tmp_path, ports, "bucket")
    assert "-ip=127.0.0.1" in command and "-ip.bind=127.0.0.1" in command
    for port in astuple(ports):
        assert sum(arg.endswith(f"={port}") for arg in command) == 1
    assert Path(command[0]).name == "weed" and "-bucket=bucket" in command


def test_mlflow_server_listens_on_loopback_without_proxying_artifacts():
    command = processes.mlflow_server_command("s3://b/mlflow", 5123)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert "--no-serve-artifacts" in command and command[command.index("--port") + 1] == "5123"


def test_database_url_names_another_database_on_the_same_server():
    url = processes.database_url("postgresql+psycopg2://u:p@127.0.0.1:5432/postgres", "data")
    assert url == "postgresql+psycopg2://u:p@127.0.0.1:5432/data"


@pytest.mark.integration
def test_create_and_drop_a_database_on_postgresql():
    try:
        url = processes.create_database(POSTGRES_URL)
    except sa.exc.OperationalError as error:
        service_missing(f"PostgreSQL at {POSTGRES_URL} does not answer: {error.orig}")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    engine.dispose()
    with pytest.raises(ValueError, match="exists"):
        processes.create_database(POSTGRES_URL, sa.make_url(url).database)
    assert processes.create_database(POSTGRES_URL, sa.make_url(url).database, exist_ok=True)
    processes.drop_database(url)
    engine = sa.create_engine(url)
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    engine.dispose()
