"""The training data store resource: hands out the plain `TrainingDataStore` (SQLite or
PostgreSQL by its URL), which holds every replicated source (task photos, face vectors)."""

import dagster as dg
from pydantic import Field, PrivateAttr

from mlops_assets.backends import factory
from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.constants import DEFAULT_EARLIEST_CONFIRMED_AT, DEFAULT_MAX_CLOCK_SKEW_S


class DataStoreResource(dg.ConfigurableResource):
    """Append-only store of confirmed task photos and face vectors, idempotent on `event_id`."""

    url: str = Field(
        description="SQLAlchemy URL: sqlite:///path/to/file.db or postgresql+psycopg2://...",
    )
    earliest_confirmed_at: str = Field(
        default=DEFAULT_EARLIEST_CONFIRMED_AT,
        description="Oldest confirmed_at / captured_at the store accepts and reads (ISO 8601 "
        "with timezone).",
    )
    max_clock_skew_s: float = Field(
        default=DEFAULT_MAX_CLOCK_SKEW_S,
        description="Seconds past now that a confirmed_at / captured_at may lie (producers' "
        "clock skew).",
    )

    _client: TrainingDataStore | None = PrivateAttr(default=None)

    def get_client(self) -> TrainingDataStore:
        """The store, made on first use; its pooled connections are released at teardown."""
        if self._client is None:
            self._client = factory.data_store_for(
                self.url, self.earliest_confirmed_at, self.max_clock_skew_s
            )
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
