"""The prediction recorder: what the server served, written in batches off the request path.

`record` only appends to a bounded in-memory buffer under a lock (microseconds); a background
thread writes batches to the prediction log. When the buffer is full the new predictions are
dropped and counted, so a slow or broken sink never blocks or fails a request. The counters
show in `GET /model` (`recorder`).

A task id is recorded with its first prediction only: a later prediction for the same task id
(another caller's, or a retry) is recorded without it, so nobody can replace the served label
that `champion_monitor` joins to the confirmed one. The recorder remembers the last
`task_id_memory` task ids; the monitor keeps the first prediction per task id besides.

Each served model has its own recorder and log: photo predictions become rows of
`batches_to_rows`, face verifications rows of `verifications_to_rows` (score, match,
threshold and the caller's pair id; never the face vectors).
"""

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mlops_assets.constants import PHOTO_FEATURES
from mlops_assets.ml.photo_stats import photo_features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedBatch:
    """One request's predictions, kept as arrays until the writer turns them into rows."""

    served_at: float
    model_version: str
    labels: np.ndarray
    confidences: np.ndarray
    task_ids: Sequence[str | None]
    pixels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def batches_to_rows(batches: Sequence[ServedBatch]) -> pd.DataFrame:
    """One DataFrame for many requests' predictions (arrays joined once, not per request)."""
    sizes = [len(b) for b in batches]
    features = photo_features(np.concatenate([b.pixels.reshape(len(b), -1) for b in batches]))
    served_at = np.repeat([b.served_at for b in batches], sizes)
    return pd.DataFrame(
        {
            "served_at": pd.to_datetime(served_at, unit="s", utc=True),
            "model_version": np.repeat([b.model_version for b in batches], sizes),
            "label": np.concatenate([b.labels for b in batches]).astype(np.int16),
            "confidence": np.concatenate([b.confidences for b in batches]).astype(np.float32),
            "task_id": [task for b in batches for task in b.task_ids],
            **{name: features[name].astype(np.float32) for name in PHOTO_FEATURES},
        }
    )


@dataclass(frozen=True)
class VerifiedBatch:
    """One verify request's answer (a batch of one), with the caller's pair id if any."""

    served_at: float
    model_version: str
    scores: np.ndarray
    matches: np.ndarray
    threshold: float
    task_ids: Sequence[str | None]

    def __len__(self) -> int:
        return len(self.scores)


def verifications_to_rows(batches: Sequence[VerifiedBatch]) -> pd.DataFrame:
    """One DataFrame of many verify answers (`contracts.prediction_rows.VERIFICATION_COLUMNS`)."""
    sizes = [len(b) for b in batches]
    served_at = np.repeat([b.served_at for b in batches], sizes)
    return pd.DataFrame(
        {
            "served_at": pd.to_datetime(served_at, unit="s", utc=True),
            "model_version": np.repeat([b.model_version for b in batches], sizes),
            "score": np.concatenate([b.scores for b in batches]).astype(np.float32),
            "match": np.concatenate([b.matches for b in batches]).astype(bool),
            "threshold": np.repeat([b.threshold for b in batches], sizes).astype(np.float32),
            "pair_id": [pair for b in batches for pair in b.task_ids],
        }
    )


@dataclass(frozen=True)
class RecorderStats:
    recorded: int
    dropped: int
    written: int
    failed: int
    pending: int
    capacity: int
    repeated_task_ids: int = 0


class PredictionRecorder:
    """Buffers served predictions and writes them in batches from a background thread.

    Args:
        write: stores a batch of rows (`PredictionLog.write`); an exception counts the rows as
            failed and the writer carries on.
        capacity: most predictions held; more are dropped and counted.
        batch_size: most predictions per write.
        flush_interval_s: most seconds a prediction waits for its write.
        task_id_memory: how many recent task ids are remembered as taken.
        to_rows: turns buffered batches into the log's rows (`batches_to_rows` for photo
            predictions, `verifications_to_rows` for verifications).
    """

    def __init__(
        self,
        write: Callable[[pd.DataFrame], object],
        capacity: int = 50_000,
        batch_size: int = 5_000,
        flush_interval_s: float = 5.0,
        task_id_memory: int = 1_000_000,
        to_rows: Callable[[Sequence], pd.DataFrame] = batches_to_rows,
    ) -> None:
        self._write = write
        self._to_rows = to_rows
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._buffer: deque = deque()
        self._pending = 0
        self._lock = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.recorded = self.dropped = self.written = self.failed = 0
        self.task_id_memory = task_id_memory
        self._taken: OrderedDict[str, None] = OrderedDict()
        self.repeated_task_ids = 0

    def record(self, batch: ServedBatch | VerifiedBatch) -> bool:
        """Queues a request's predictions; never blocks on the sink, never raises.

        Returns:
            False when the buffer had no room and the predictions were dropped.
        """
        with self._lock:
            if self._pending + len(batch) > self.capacity:
                self.dropped += len(batch)
                return False
            self._buffer.append(self._first_claims(batch))
            self._pending += len(batch)
            self.recorded += len(batch)
            if self._pending >= self.batch_size:
                self._lock.notify()
        return True

    def _first_claims(self, batch):
        """The batch with every task id already taken (by an earlier prediction) removed."""
        if not any(batch.task_ids):
            return batch
        taken, kept = self._taken, []
        for task_id in batch.task_ids:
            if task_id is not None and task_id in taken:
                self.repeated_task_ids += 1
                task_id = None
            elif task_id is not None:
                taken[task_id] = None
                if len(taken) > self.task_id_memory:
                    taken.popitem(last=False)
            kept.append(task_id)
        return replace(batch, task_ids=kept)

    def stats(self) -> RecorderStats:
        with self._lock:
            return RecorderStats(
                self.recorded,
                self.dropped,
                self.written,
                self.failed,
                self._pending,
                self.capacity,
                self.repeated_task_ids,
            )

    def start(self) -> None:
        """Starts the writer thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="prediction-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Writes what is buffered, then stops the writer thread."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def flush(self) -> None:
        """Writes everything buffered now, on the calling thread."""
        while self._write_one():
            pass

    def _take(self) -> list:
        taken, size = [], 0
        with self._lock:
            while self._buffer and (not taken or size + len(self._buffer[0]) <= self.batch_size):
                batch = self._buffer.popleft()
                taken.append(batch)
                size += len(batch)
            self._pending -= size
        return taken

    def _write_one(self) -> bool:
        taken = self._take()
        if not taken:
            return False
        count = sum(len(b) for b in taken)
        try:
            self._write(self._to_rows(taken))
        except Exception:  # noqa: BLE001 - any sink error: count the rows, keep serving
            log.exception("prediction log write failed; %d predictions lost", count)
            with self._lock:
                self.failed += count
            return True
        with self._lock:
            self.written += count
        return True

    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            with self._lock:
                while (
                    not self._stopping
                    and self._pending < self.batch_size
                    and time.monotonic() < deadline
                ):
                    self._lock.wait(max(0.0, deadline - time.monotonic()))
                stopping = self._stopping
            self.flush()
            deadline = time.monotonic() + self.flush_interval_s
            if stopping:
                return
