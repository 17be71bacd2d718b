"""The training data store's record, in a module of its own so event contracts can use it
without importing the store (and dagster with it)."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TaskRecord:
    """One confirmed task photo as the store keeps it.

    `pixels` are the photo's grey levels in row-major order (uint8).
    """

    event_id: str
    task_id: str
    confirmed_at: datetime
    label: int
    pixels: bytes
    source: str
