"""The training data store resource: hands out the plain `TrainingDataStore` (SQLite or
PostgreSQL by its URL)."""

import dagster as dg
from pydantic import Field, PrivateAttr

from mlops_assets.backends.data_store import TrainingDataStore


class DataStoreResource(dg.ConfigurableResource):
    """Append-only store of confirmed task photos, idempotent on `event_id`."""

    url: str = Field(
        description="SQLAlchemy URL: sqlite:///path/to/file.db or postgresql+psycopg2://...",
    )

    _client: TrainingDataStore | None = PrivateAttr(default=None)

    def get_client(self) -> TrainingDataStore:
        """The store, made on first use; its pooled connections are released at teardown."""
        if self._client is None:
            self._client = TrainingDataStore(self.url)
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
