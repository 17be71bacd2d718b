"""Shared fixtures: an isolated embedded configuration per test, and the demo data."""

import os

import pytest

from mlops_assets.definitions import build_definitions, build_resources
from mlops_assets.demo_source import demo_tasks
from mlops_assets.settings import Settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    return Settings(home=home)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """Embedded defaults under a temporary MLOPS_HOME, ignoring the caller's environment."""
    return embedded_settings(tmp_path / "var", monkeypatch)


@pytest.fixture
def resources(settings) -> dict:
    built = build_resources(settings)
    yield built
    built["data_store"].close()


@pytest.fixture
def definitions(settings):
    return build_definitions(settings)


@pytest.fixture(scope="session")
def demo_records():
    return demo_tasks()


@pytest.fixture
def seeded_store(resources, demo_records):
    store = resources["data_store"]
    store.insert(demo_records)
    return store
