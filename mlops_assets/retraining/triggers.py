"""Plain decisions behind the sensors: when to retrain, and whether a tick may consume."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RetrainDecision:
    """An event source's sensor verdict for one tick (`source`, `records`: how its events and
    their records are called: "task events" / "confirmed labels", "face events" / "face
    vectors")."""

    new_labels: int
    baseline: int
    high_water_mark: int
    min_new_labels: int
    source: str = "task events"
    records: str = "confirmed labels"

    @property
    def retrain(self) -> bool:
        return self.new_labels >= self.min_new_labels and self.high_water_mark > self.baseline

    @property
    def run_key(self) -> str:
        # The same data always yields the same key, so a retried tick cannot start a second run.
        return f"{self.source.replace(' ', '-')}-hwm-{self.high_water_mark}"

    def skip_reason(self) -> str:
        return (
            f"{self.new_labels} new {self.records} beyond high-water mark {self.baseline} "
            f"(store at {self.high_water_mark}); retraining needs {self.min_new_labels}"
        )


def decide_retrain(
    high_water_mark: int,
    baseline: int,
    new_labels: int,
    min_new_labels: int,
    source: str = "task events",
    records: str = "confirmed labels",
) -> RetrainDecision:
    """Decides whether enough labels arrived since the data the last run used or requested.

    Args:
        high_water_mark: the store's newest `seq` now.
        baseline: the larger of the last training snapshot's high-water mark and the mark at
            which this sensor last requested a run (the cursor).
        new_labels: records in the store beyond `baseline`.
        min_new_labels: how many new labels justify a retraining run.
        source: what the source's events are called (its run keys start with it).
        records: what its records are called (in the skip reason).

    Returns:
        The decision, with the run key to use when it says retrain.
    """
    return RetrainDecision(new_labels, baseline, high_water_mark, min_new_labels, source, records)


def parse_cursor(cursor: str | None) -> int:
    """An event source sensor's cursor: its table's high-water mark at its last run request."""
    return int(cursor) if cursor and cursor.isdigit() else 0


def is_preview(log_key: Sequence[str] | None, repository_name: str | None) -> bool:
    """Tells a UI / CLI preview of a sensor from a tick that may consume messages.

    The sensor daemon evaluates a tick with the log key [repository, sensor, tick id], the tick
    id being the integer id of the tick it recorded before evaluating. "Preview" in the UI and
    `dagster sensor preview` evaluate in the code server with no tick and no log key, so the
    context makes one up from the repository name and a timestamp. A direct call in Python
    (tests, scripts, `build_sensor_context`) has neither a log key nor a repository name.

    Returns:
        True for an evaluation that is neither a recorded daemon tick nor a direct call.
    """
    if log_key and str(log_key[-1]).isdigit():
        return False
    return repository_name is not None
