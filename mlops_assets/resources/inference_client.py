"""The inference server resource: hands out the plain `InferenceClient` the deployment step uses."""

import dagster as dg
from pydantic import Field

from mlops_assets.backends.inference_client import InferenceClient


class InferenceClientResource(dg.ConfigurableResource):
    """The inference server that serves `@champion`, asked to reload after a promotion."""

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

    def get_client(self) -> InferenceClient:
        """The client (it holds no connection)."""
        return InferenceClient(self.url, self.timeout_s, self.admin_token)
