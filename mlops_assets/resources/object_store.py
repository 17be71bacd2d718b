"""The object store resource: hands out the plain `ObjectStore` (a folder or S3 by its URL)."""

import dagster as dg
from pydantic import Field, PrivateAttr

from mlops_assets.backends import factory
from mlops_assets.backends.object_store import ObjectStore


class ObjectStoreResource(dg.ConfigurableResource):
    """Where training-data snapshots are written as Parquet."""

    url: str = Field(description="s3://bucket/prefix, a file:// URL or a folder.")
    endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (http://127.0.0.1:8333); unset means AWS."
    )
    region: str = Field(default="us-east-1", description="Region used to sign S3 requests.")

    _client: ObjectStore | None = PrivateAttr(default=None)

    def get_client(self) -> ObjectStore:
        """The store, made on first use."""
        if self._client is None:
            self._client = factory.object_store_for(self.url, self.endpoint_url, self.region)
        return self._client

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Fail the step before any work when the store is down or refuses our credentials.
        self.get_client().check()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
