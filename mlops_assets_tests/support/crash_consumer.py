"""A replication consumer for the crash test, run as its own process and killed with SIGKILL.

Around its `pause_after`-th batch it says so on stdout and waits on stdin, so the test kills it
at a chosen moment: `after-commit` (records committed, messages not acked: the worst one) or
`before-commit` (batch fetched, nothing written).
"""

import sys

from mlops_assets.backends import factory
from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.record_tables import TASK_RECORDS
from mlops_assets.retraining.replication import FACE_EVENTS, TASK_EVENTS, replicate

SOURCES = {"task": TASK_EVENTS, "face": FACE_EVENTS}


class PausingStore(TrainingDataStore):
    """The real store; after the n-th commit it reports and blocks until killed."""

    def __init__(self, url: str, pause_after: int, before_commit: bool) -> None:
        super().__init__(url)
        self.pause_after = pause_after
        self.before_commit = before_commit
        self._commits = 0

    def insert(self, records, table=TASK_RECORDS) -> int:
        self._commits += 1
        pause = self._commits == self.pause_after
        if pause and self.before_commit:
            self._pause("fetched")
        added = super().insert(records, table)
        if pause and not self.before_commit:
            self._pause("committed")
        return added

    def _pause(self, what: str) -> None:
        sys.stdout.write(what + "\n")
        sys.stdout.flush()
        sys.stdin.readline()


def main(
    backend: str,
    location: str,
    prefix: str,
    store_url: str,
    pause_after: str,
    when: str,
    source: str = "task",
) -> None:
    queue = factory.event_queue_for(None if backend == "sqlite" else location, location, prefix)
    store = PausingStore(
        url=store_url, pause_after=int(pause_after), before_commit=when == "before-commit"
    )
    replicate(
        queue, store, max_messages=10**6, max_seconds=120, batch_size=50, source=SOURCES[source]
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
