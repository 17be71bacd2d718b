"""The embedded event queue resource: a SQLite file under MLOPS_HOME (logic in `queues/`)."""

from pydantic import Field

from mlops_assets.queues.sqlite_queue import SqliteQueue
from mlops_assets.resources.event_queue import EventQueueResource


class SqliteEventQueue(EventQueueResource):
    """Embedded default: the queues live in a SQLite file under MLOPS_HOME."""

    path: str = Field(description="SQLite file holding the queues.")
    lease_seconds: float = Field(
        default=120.0,
        description="How long a fetched, unacknowledged message stays with its consumer before "
        "another may receive it (longer than a sensor tick).",
    )

    def build(self) -> SqliteQueue:
        return SqliteQueue(self.path, prefix=self.prefix, lease_seconds=self.lease_seconds)
