"""Where the server's models come from: a registry alias resolved to one numeric version.

Read-only use of the pipeline's dagster-free `RegistryClient`, so the server deploys on its own
and reads versions, aliases and the sha256 tag exactly as the pipeline writes them.
"""

from pathlib import Path

from mlops_assets.backends.model_signing import ModelSigner
from mlops_assets.backends.registry import RegisteredModel, RegistryClient

# One registered version, as resolved from the alias.
VersionRef = RegisteredModel


class RegistrySource:
    """Resolves `models:/<name>@<alias>` to a version and downloads its `.keras` file, once
    the pipeline's signature over its hash, name and version verifies."""

    def __init__(self, tracking_uri: str, model_name: str, alias: str, signer: ModelSigner):
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        self.signer = signer
        self._registry = RegistryClient(tracking_uri, model_name)

    def resolve(self) -> VersionRef | None:
        """Returns the version the alias points at now, or None while it is unset."""
        return self._registry.by_alias(self.alias)

    def download(self, ref: VersionRef, destination: Path) -> Path:
        """Downloads a version's artifacts into `destination` and returns its `.keras` file.

        Raises:
            SignatureError: the version's signature does not verify (nothing is downloaded).
            FileNotFoundError: the version holds no `.keras` file.
        """
        self.signer.verify(ref.sha256, ref.name, ref.version, ref.signature)
        return self._registry.download_version(ref.version, destination)
