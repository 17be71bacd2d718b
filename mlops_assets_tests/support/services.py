"""Where the tests find the services, and what they do when one is missing."""

import os

import pytest

from mlops_assets.settings import Settings
from mlops_assets.tools import processes

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", processes.RABBITMQ_URL)


def service_missing(reason: str) -> None:
    """Fails under CI (the service must be there) and skips loudly on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: every service must be available)")
    pytest.skip(f"SERVICE MISSING: {reason}")


def embedded_settings(home, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded defaults under `home`, ignoring the environment.

    MLflow's `set_tracking_uri` (called by dagster-mlflow) exports MLFLOW_TRACKING_URI, so a
    previous run in this process would otherwise leak into the next configuration.
    """
    for name in list(os.environ):
        if name.startswith("MLOPS_") or name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("RABBITMQ_URL", raising=False)
    # Same retries as production, without the five-minute waits.
    return Settings(home=home, retry_delay_s=0)
