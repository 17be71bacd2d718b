"""The model registry resource: a dagster facade over `mlops_assets.registry_client`.

The registry logic lives in a plain class so `mlops-assets rollback` runs without importing
dagster; this resource only carries the configuration the assets see in the UI.
"""

from pathlib import Path

import dagster as dg
from mlflow.tracking import MlflowClient
from pydantic import Field

from mlops_assets.registry_client import RegisteredModel, RegistryClient


class ModelRegistry(dg.ConfigurableResource):
    """Registers challengers, moves the `champion` alias and rolls it back."""

    tracking_uri: str = Field(description="MLflow tracking URI (sqlite:///… or http://…).")
    model_name: str = Field(description="Registered model that holds every version.")
    ui_url: str = Field(
        default="http://127.0.0.1:5000", description="MLflow UI address used in asset links."
    )

    @property
    def registry(self) -> RegistryClient:
        """The plain registry client this resource delegates to (holds no connection)."""
        return RegistryClient(self.tracking_uri, self.model_name, self.ui_url)

    def client(self) -> MlflowClient:
        """Returns an MLflow client bound to this registry's tracking URI."""
        return self.registry.client()

    def run_url(self, run_id: str) -> str:
        """Returns the MLflow UI page of a run."""
        return self.registry.run_url(run_id)

    def register(self, model_uri: str, run_id: str, sha256: str) -> RegisteredModel:
        """Registers a logged model and points `challenger` at it (see `RegistryClient`)."""
        return self.registry.register(model_uri, run_id, sha256)

    def by_alias(self, alias: str) -> RegisteredModel | None:
        """Returns the version an alias points at, or None if the alias is unset."""
        return self.registry.by_alias(alias)

    def champion(self) -> RegisteredModel | None:
        """Returns the current champion, or None before the first promotion."""
        return self.registry.champion()

    def version(self, version: str) -> RegisteredModel:
        """Returns one version by number."""
        return self.registry.version(version)

    def champion_for(self, month: str) -> RegisteredModel | None:
        """Returns the champion a month's challenger is judged against (see `RegistryClient`)."""
        return self.registry.champion_for(month)

    def later_month_promoted(self, month: str) -> bool:
        """Tells whether a month after `month` has already promoted a champion."""
        return self.registry.later_month_promoted(month)

    def promote(self, version: str, reason: str, month: str | None = None) -> str | None:
        """Moves `champion` to `version`; returns the version it replaced, if any."""
        return self.registry.promote(version, reason, month)

    def rollback(self, reason: str) -> tuple[str, str]:
        """Moves `champion` back; returns (version rolled back from, version now serving)."""
        return self.registry.rollback(reason)

    def history(self) -> list[dict]:
        """Returns the champion decisions recorded so far, oldest first."""
        return self.registry.history()

    def record(self, action: str, version: str, previous: str | None, reason: str) -> None:
        """Appends a champion decision to the history (see `RegistryClient.record`)."""
        self.registry.record(action, version, previous, reason)

    def download_version(self, version: str, destination: str | Path) -> Path:
        """Downloads a registered version and returns the path of its `.keras` file."""
        return self.registry.download_version(version, destination)

    def download_keras(self, artifact_uri: str, destination: str | Path) -> Path:
        """Downloads a logged model to `destination`; returns the path of its `.keras` file."""
        return self.registry.download_keras(artifact_uri, destination)
