"""Secrets reach Dagster as environment variables: the code location never stores their values."""

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from mlops_assets.definitions import build_definitions
from mlops_assets.settings import Settings

PASSWORD = "pw-3f9c1a7e"
SECRETS = {
    "RABBITMQ_URL": f"amqp://mlops:{PASSWORD}@rabbit.example:5672/%2F",
    "MLOPS_DATA_STORE_URL": f"postgresql+psycopg2://mlops:{PASSWORD}-db@db.example/data",
    "MLFLOW_TRACKING_URI": f"https://mlops:{PASSWORD}-mlflow@mlflow.example",
    "MLOPS_SERVING_ADMIN_TOKEN": f"{PASSWORD}-token",
}


@pytest.fixture
def secret_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    for variable, value in SECRETS.items():
        monkeypatch.setenv(variable, value)
    return monkeypatch


def _repository_snapshot(defs: dg.Definitions) -> str:
    """What the Dagster UI shows of the code location (resources with their config), serialized."""
    return serialize_value(RepositorySnap.from_def(defs.get_repository_def()))


def test_no_password_in_the_code_locations_resource_config(secret_environment):
    settings = Settings()
    assert settings.resolved_rabbitmq_url == SECRETS["RABBITMQ_URL"]
    snapshot = _repository_snapshot(build_definitions(settings))
    assert PASSWORD not in snapshot
    for variable in ("RABBITMQ_URL", "MLOPS_DATA_STORE_URL", "MLOPS_SERVING_ADMIN_TOKEN"):
        assert variable in snapshot


def test_settings_hide_secrets_in_their_repr(secret_environment):
    assert PASSWORD not in repr(Settings())


def test_resources_read_the_secret_at_run_time(secret_environment):
    resources = build_definitions(Settings()).resources
    assert resources["event_queue"].rabbitmq_url == dg.EnvVar("RABBITMQ_URL")
    with dg.build_resources({"data_store": resources["data_store"]}) as built:
        assert built.data_store.url == SECRETS["MLOPS_DATA_STORE_URL"]
    with dg.build_resources({"inference_server": resources["inference_server"]}) as built:
        assert (
            built.inference_server.get_client().admin_token == SECRETS["MLOPS_SERVING_ADMIN_TOKEN"]
        )


def test_embedded_defaults_need_no_variable(monkeypatch, tmp_path):
    for variable in SECRETS:
        monkeypatch.delenv(variable, raising=False)
    resources = build_definitions(Settings(home=tmp_path)).resources
    assert resources["event_queue"].rabbitmq_url is None
    assert resources["data_store"].url == f"sqlite:///{tmp_path.resolve() / 'training_data.db'}"
