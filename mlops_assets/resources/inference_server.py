"""The inference server resource: hands out the plain `InferenceServerClient` deployment uses."""

import dagster as dg
from pydantic import Field

from mlops_assets.backends.inference_server import InferenceServerClient


class InferenceServerResource(dg.ConfigurableResource):
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

    def get_client(self) -> InferenceServerClient:
        """The client (it holds no connection)."""
        return InferenceServerClient(self.url, self.timeout_s, self.admin_token)
