"""The inference server as the pipeline sees it: reload to the registry's champion, confirm it.

A dagster facade over `mlops_assets.serving.client.InferenceServer`, which the rollback command
uses without dagster.
"""

import dagster as dg
from pydantic import Field

from mlops_assets.serving.client import InferenceServer


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
    def server(self) -> InferenceServer:
        """The plain server client this resource delegates to."""
        return InferenceServer(self.url, self.timeout_s, self.admin_token)

    @property
    def configured(self) -> bool:
        """Whether a server is configured at all."""
        return self.server.configured

    def deploy(self, version: str, reason: str) -> dict:
        """Makes the server serve `version` and waits until it does (see `InferenceServer`).

        Raises:
            DeploymentError: the server refused the model, was unreachable, or did not serve
                `version` within `timeout_s`.
        """
        return self.server.deploy(version, reason)
