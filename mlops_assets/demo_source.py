"""Demo source: scikit-learn's bundled handwritten digits as two years of confirmed tasks.

Stands in for the Helper service. Every photo becomes a confirmed task with a timestamp spread
over two years; the same seed always gives the same tasks, ids and times.
"""

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from sklearn.datasets import load_digits

from mlops_assets.resources.data_store import TaskRecord

DEMO_START = datetime(2024, 1, 1, tzinfo=UTC)
DEMO_DAYS = 731
SOURCE = "demo-digits"


def demo_tasks(
    seed: int = 7, start: datetime = DEMO_START, days: int = DEMO_DAYS
) -> list[TaskRecord]:
    """Builds the demo's confirmed tasks, oldest first.

    Args:
        seed: shuffles which photo arrives when and the arrival times.
        start: first instant of the replayed period (UTC).
        days: length of the period.

    Returns:
        One record per digits image (1,797), ordered by `confirmed_at`.
    """
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    offsets = np.sort(rng.uniform(0, days * 86400, size=len(order)))
    namespace = uuid.UUID(int=seed)
    return [
        TaskRecord(
            event_id=str(uuid.uuid5(namespace, f"event-{i}")),
            task_id=f"task-{i:05d}",
            confirmed_at=start + timedelta(seconds=float(offset)),
            label=int(digits.target[index]),
            pixels=digits.data[index].astype(np.uint8).tobytes(),
            source=SOURCE,
        )
        for i, (index, offset) in enumerate(zip(order, offsets, strict=True))
    ]
