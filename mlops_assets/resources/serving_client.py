"""The inference server as the pipeline sees it: reload to the registry's champion, confirm it."""

import dagster as dg
from pydantic import Field

from mlops_assets.serving import client


class ServingClient(dg.ConfigurableResource):
    """Asks the inference server to reload and waits until it answers with a given version."""

    url: str | None = Field(
        default=None,
        description="Inference server base URL (MLOPS_SERVING_URL); unset: no server to notify.",
    )
    timeout_s: float = Field(
        default=60.0, description="How long a deployment waits for the server to serve a version."
    )
    admin_token: str | None = Field(
        default=None, description="The server's MLOPS_SERVING_ADMIN_TOKEN, if it has one."
    )

    @property
    def configured(self) -> bool:
        """Whether a server is configured at all."""
        return bool(self.url)

    def deploy(self, version: str, reason: str) -> dict:
        """Makes the server reload its alias (already moved to `version`) and serve it.

        Args:
            version: the version the champion alias points at now.
            reason: logged by the server.

        Returns:
            The server's reload report (`status`, `serving_version`, `seconds`, …).

        Raises:
            DeploymentError: the server refused the model, was unreachable, or did not serve
                `version` within `timeout_s`.
        """
        if not self.url:
            raise client.DeploymentError("no inference server configured (MLOPS_SERVING_URL)")
        return client.deploy(self.url, version, reason, self.timeout_s, self.admin_token)
