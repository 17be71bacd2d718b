"""Where the server's models come from: a registry alias resolved to one numeric version.

A few read-only MLflow calls, without dagster, so the server deploys on its own. The pipeline's
`ModelRegistry` resource writes what is read here (versions, aliases, the sha256 tag).
"""

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient

from mlops_assets.constants import ARTIFACT_SHA256_TAG


@dataclass(frozen=True)
class VersionRef:
    """One registered version, as resolved from the alias."""

    name: str
    version: str
    run_id: str | None
    source: str
    sha256: str | None


class RegistrySource:
    """Resolves `models:/<name>@<alias>` to a version and downloads its `.keras` file."""

    def __init__(self, tracking_uri: str, model_name: str, alias: str):
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def resolve(self) -> VersionRef | None:
        """Returns the version the alias points at now, or None while it is unset."""
        try:
            version = self._client.get_model_version_by_alias(self.model_name, self.alias)
        except (MlflowException, RestException) as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return VersionRef(
            name=version.name,
            version=str(version.version),
            run_id=version.run_id,
            source=version.source,
            sha256=(version.tags or {}).get(ARTIFACT_SHA256_TAG),
        )

    def download(self, ref: VersionRef, destination: Path) -> Path:
        """Downloads a version's artifacts into `destination`.

        Args:
            ref: the version to fetch.
            destination: an empty folder.

        Returns:
            The path of its `.keras` file.

        Raises:
            FileNotFoundError: the version holds no `.keras` file.
        """
        uri = self._client.get_model_version_download_uri(ref.name, ref.version)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(destination), tracking_uri=self.tracking_uri
        )
        files = sorted(Path(local).rglob("*.keras"))
        if not files:
            raise FileNotFoundError(f"{ref.name} v{ref.version} holds no .keras file")
        return files[0]
