"""Settings: one base for the pipeline and the server, so each shared default is written once."""

import pytest

from mlops_assets.serving.config import ServingSettings
from mlops_assets.settings import Settings, SharedSettings

SHARED = {
    "MLOPS_HOME": ("home_dir", "/srv/mlops"),
    "MLFLOW_TRACKING_URI": ("resolved_tracking_uri", "http://127.0.0.1:5000"),
    "MLOPS_MODEL_NAME": ("model_name", "digits"),
    "RABBITMQ_URL": ("resolved_rabbitmq_url", "amqp://guest:guest@127.0.0.1:5672/%2F"),
    "MLOPS_EVENT_QUEUE_PREFIX": ("event_queue_prefix", "staging."),
    "MLOPS_SERVING_ADMIN_TOKEN": ("resolved_admin_token", "s3cret"),
}


@pytest.fixture
def clean_environment(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith(("MLOPS_", "MLFLOW_")) or name == "RABBITMQ_URL":
            monkeypatch.delenv(name)
    return monkeypatch


def test_pipeline_and_server_share_their_base():
    assert issubclass(Settings, SharedSettings) and issubclass(ServingSettings, SharedSettings)


@pytest.mark.parametrize("variable", sorted(SHARED))
def test_each_shared_variable_means_the_same_to_both(clean_environment, variable):
    field, value = SHARED[variable]
    clean_environment.setenv(variable, value)
    pipeline, server = Settings(), ServingSettings()
    assert str(getattr(pipeline, field)) == str(getattr(server, field)) == value


def test_embedded_defaults_agree_without_any_variable(clean_environment, tmp_path):
    clean_environment.chdir(tmp_path)
    pipeline, server = Settings(), ServingSettings()
    assert pipeline.resolved_tracking_uri == server.resolved_tracking_uri
    assert pipeline.resolved_tracking_uri == f"sqlite:///{tmp_path.resolve() / 'var' / 'mlflow.db'}"
    assert pipeline.resolved_event_queue_path == server.resolved_event_queue_path
    assert pipeline.rabbitmq_url is server.rabbitmq_url is None


def test_server_settings_keep_their_own_prefix(clean_environment):
    clean_environment.setenv("MLOPS_SERVING_PORT", "8123")
    clean_environment.setenv("MLOPS_PORT", "9999")
    assert ServingSettings().port == 8123


def test_mlflow_endpoint_variable_is_the_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_S3_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert Settings(home=tmp_path).s3_endpoint_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("MLOPS_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    assert Settings(home=tmp_path).s3_endpoint_url == "http://127.0.0.1:8333"


def test_the_monitor_sensor_reads_its_old_health_variables_as_aliases(monkeypatch):
    monkeypatch.setenv("MLOPS_HEALTH_MIN_SAMPLES", "7")
    monkeypatch.setenv("MLOPS_MONITOR_COOLDOWN_HOURS", "2.5")
    settings = Settings()
    assert settings.monitor_min_samples == 7
    assert settings.monitor_cooldown_hours == 2.5
