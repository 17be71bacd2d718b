"""A replication consumer for the crash test, run as its own process and killed with SIGKILL.

Around its `pause_after`-th batch it says so on stdout and waits on stdin, so the test kills it
at a chosen moment: `after-commit` (records committed, messages not acked: the worst one) or
`before-commit` (batch fetched, nothing written).
"""

import sys

from pydantic import PrivateAttr

from mlops_assets.retraining.replication import replicate
from mlops_assets.resources.data_store import TrainingDataStore
from mlops_assets.resources.rabbitmq_queue import RabbitMQEventQueue
from mlops_assets.resources.sqlite_queue import SqliteEventQueue


class PausingStore(TrainingDataStore):
    """The real store; after the n-th commit it reports and blocks until killed."""

    pause_after: int
    before_commit: bool
    _commits: int = PrivateAttr(default=0)

    def insert(self, records) -> int:
        self._commits += 1
        pause = self._commits == self.pause_after
        if pause and self.before_commit:
            self._pause("fetched")
        added = super().insert(records)
        if pause and not self.before_commit:
            self._pause("committed")
        return added

    def _pause(self, what: str) -> None:
        sys.stdout.write(what + "\n")
        sys.stdout.flush()
        sys.stdin.readline()


def main(
    backend: str, location: str, prefix: str, store_url: str, pause_after: str, when: str
) -> None:
    if backend == "sqlite":
        queue = SqliteEventQueue(path=location, prefix=prefix)
    else:
        queue = RabbitMQEventQueue(url=location, prefix=prefix)
    store = PausingStore(
        url=store_url, pause_after=int(pause_after), before_commit=when == "before-commit"
    )
    replicate(queue, store, max_messages=10**6, max_seconds=120, batch_size=50)


if __name__ == "__main__":
    main(*sys.argv[1:])
