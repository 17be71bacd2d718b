"""Where the server's models come from: a registry alias resolved to one numeric version.

Read-only use of the pipeline's dagster-free `RegistryClient`, so the server deploys on its own
and reads versions, aliases and the sha256 tag exactly as the pipeline writes them.
"""

from pathlib import Path

import mlflow

from mlops_assets.backends.model_signing import ModelSigner
from mlops_assets.backends.registry import RegisteredModel, RegistryClient

# One registered version, as resolved from the alias.
VersionRef = RegisteredModel


class RegistrySource:
    """Resolves `models:/<name>@<alias>` to a version and downloads it, once the pipeline's
    signature over its hash, name and version verifies.

    Args:
        tracking_uri: the MLflow registry.
        model_name: the registered model.
        alias: the alias followed (`champion`).
        signer: verifies each version's signature before anything is downloaded.
        kind: the serving kind (`model_kinds.ServingKind`): classification downloads the
            version's `.keras` file; any other kind its folder (the loader finds the face
            verifier's or the risk model's `.npz` in it).
    """

    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        alias: str,
        signer: ModelSigner,
        kind: str = "classification",
    ):
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        self.signer = signer
        self.kind = kind
        self._registry = RegistryClient(tracking_uri, model_name)

    @property
    def name(self) -> str:
        """The registered model's name (what model events carry)."""
        return self.model_name

    def resolve(self) -> VersionRef | None:
        """Returns the version the alias points at now, or None while it is unset."""
        return self._registry.by_alias(self.alias)

    def download(self, ref: VersionRef, destination: Path) -> Path:
        """Downloads a version into `destination`: its `.keras` file (classification) or its
        folder (any other kind).

        Raises:
            SignatureError: the version's signature does not verify (nothing is downloaded).
            FileNotFoundError: a classification version holds no `.keras` file.
        """
        self.signer.verify(ref.sha256, ref.name, ref.version, ref.signature)
        if self.kind == "classification":
            return self._registry.download_version(ref.version, destination)
        client = self._registry.client()
        uri = client.get_model_version_download_uri(self.model_name, ref.version)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(destination), tracking_uri=self.tracking_uri
        )
        return Path(local)
