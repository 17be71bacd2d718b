"""The model registry resource: hands out the plain `RegistryClient` (MLflow aliases)."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from mlops_assets.backends.model_signing import ModelSigner
from mlops_assets.backends.registry import RegistryClient


class RegistryResource(dg.ConfigurableResource):
    """Registers challengers, moves the `champion` alias and rolls it back, for every model of
    the fleet: one MLflow server, one client per registered model (its spec's
    `registry_name`), each with its own champion lock and outbox."""

    tracking_uri: str = Field(description="MLflow tracking URI (sqlite:///… or http://…).")
    ui_url: str = Field(
        default="http://127.0.0.1:5000", description="MLflow UI address used in asset links."
    )
    signing_key: str | None = Field(
        default=None,
        description="Key that signs each registered version (MLOPS_MODEL_SIGNING_KEY); unset: "
        "the key file below.",
    )
    signing_key_file: str = Field(
        description="Key file of the embedded default (MLOPS_HOME/model-signing.key), "
        "created on the first registration."
    )
    lock_url: str | None = Field(
        default=None,
        description="The champion lock (a PostgreSQL / MySQL URL or file:///path); default a "
        "file lock beside the SQLite registry.",
    )

    def get_client(self, registry_name: str) -> RegistryClient:
        """The client of the registered model `registry_name` (it holds no connection).

        Args:
            registry_name: the model spec's `registry_name`.
        """
        signer = ModelSigner(self.signing_key, Path(self.signing_key_file))
        return RegistryClient(self.tracking_uri, registry_name, self.ui_url, signer, self.lock_url)
