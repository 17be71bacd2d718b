"""Demo source: scikit-learn's bundled handwritten digits as two years of confirmed tasks.

Stands in for the Helper service. Each month brings a batch of confirmed task photos drawn from
the 1,797 digits images (each slightly shifted, so no two months share exact photos). The stream
drifts the way real task photos do: from `drift_month` on, photos are taken differently (fainter,
noisier, off-centre), and one task category (`late_label`) is rare until `late_label_month`.
The same scenario always gives the same tasks, ids and times.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from mlops_assets.constants import IMAGE_SHAPE, LABELS, PIXEL_MAX
from mlops_assets.contracts.records import TaskRecord

SOURCE = "demo-digits"


@dataclass(frozen=True)
class Scenario:
    """How the replayed period looks. Months are counted from 1."""

    seed: int = 7
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    months: int = 24
    per_month: int = 150
    drift: bool = True
    drift_month: int = 16
    late_label: int = 9
    late_label_month: int = 19
    corrupt_month: int | None = None

    def month_start(self, month: int) -> datetime:
        """First instant of a 1-based month of the scenario."""
        return (pd.Timestamp(self.start) + pd.DateOffset(months=month - 1)).to_pydatetime()

    def month_key(self, month: int) -> str:
        """The month's partition key, e.g. 2024-01-01."""
        return self.month_start(month).strftime("%Y-%m-%d")


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    shifted = np.roll(image, (dy, dx), axis=(0, 1))
    if dy > 0:
        shifted[:dy] = 0
    elif dy < 0:
        shifted[dy:] = 0
    if dx > 0:
        shifted[:, :dx] = 0
    elif dx < 0:
        shifted[:, dx:] = 0
    return shifted


def _new_camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The drifted capture: fainter and noisier."""
    faint = image * 0.7 + rng.normal(0, 1.0, image.shape)
    return np.clip(np.rint(faint), 0, PIXEL_MAX)


def _label_weights(scenario: Scenario, month: int) -> np.ndarray:
    weights = np.ones(len(LABELS))
    if scenario.drift and month < scenario.late_label_month:
        weights[scenario.late_label] = 0.1
    elif scenario.drift:
        weights[scenario.late_label] = 3.0
    return weights


def month_tasks(scenario: Scenario, month: int) -> list[TaskRecord]:
    """Builds one month's confirmed tasks, oldest first.

    Args:
        scenario: the replayed period.
        month: 1-based month of the scenario.

    Returns:
        `scenario.per_month` records with times spread over the month.
    """
    digits = load_digits()
    images = digits.images.astype(np.float64)
    rng = np.random.default_rng([scenario.seed, month])
    sample_weights = _label_weights(scenario, month)[digits.target]
    chosen = rng.choice(
        len(images), size=scenario.per_month, replace=False, p=sample_weights / sample_weights.sum()
    )
    start = scenario.month_start(month)
    seconds = (scenario.month_start(month + 1) - start).total_seconds()
    offsets = np.sort(rng.uniform(0, seconds, size=scenario.per_month))
    labels = digits.target[chosen].copy()
    if scenario.corrupt_month == month:
        labels = rng.permutation(labels)
    namespace = uuid.UUID(int=scenario.seed)
    records = []
    for i, (index, offset, label) in enumerate(zip(chosen, offsets, labels, strict=True)):
        image = _shift(images[index], *rng.integers(-1, 2, size=2))
        if scenario.drift and month >= scenario.drift_month:
            image = _new_camera(image, rng)
        records.append(
            TaskRecord(
                event_id=str(uuid.uuid5(namespace, f"{month}-{i}")),
                task_id=f"task-{month:02d}-{i:04d}",
                confirmed_at=start + timedelta(seconds=float(offset)),
                label=int(label),
                pixels=image.reshape(IMAGE_SHAPE).astype(np.uint8).tobytes(),
                source=SOURCE,
            )
        )
    return records


def demo_tasks(scenario: Scenario = Scenario()) -> list[TaskRecord]:
    """Builds every month's confirmed tasks of the scenario, oldest first."""
    return [
        record for month in range(1, scenario.months + 1) for record in month_tasks(scenario, month)
    ]
