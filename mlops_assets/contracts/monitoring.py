"""What the champion monitor reports: live accuracy with its interval and the drift tests.

Written by the `champion_monitor` asset (as JSON metadata) and read back by
`champion_monitor_sensor` and the replay, so the fields are named once.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LiveAccuracy(_Result):
    """The champion's accuracy on the tasks confirmed in the window."""

    n: int
    correct: int
    accuracy: float | None
    low: float | None
    high: float | None
    confidence: float
    joined_served: int = 0
    scored_now: int = 0


class DriftTest(_Result):
    """One two-sample test between a reference sample and the window's sample."""

    name: str
    kind: str
    statistic: float | None
    p_value: float | None
    n_reference: int
    n_window: int
    threshold: float
    alpha: float

    @property
    def drifted(self) -> bool:
        """Both an effect size past the threshold and a significant test."""
        if self.statistic is None or self.p_value is None:
            return False
        return self.statistic > self.threshold and self.p_value < self.alpha


class MonitorReport(_Result):
    """One evaluation of the champion on one window."""

    champion_version: str
    window_start: datetime
    window_end: datetime
    served_predictions: int
    accuracy: LiveAccuracy
    drift: list[DriftTest]
    target_accuracy: float
    reference: str


class ScoreSummary(_Result):
    """A sample of verification scores (cosine), summarised; None values for an empty one."""

    n: int
    mean: float | None
    p05: float | None
    p50: float | None
    p95: float | None


class FaceMonitorReport(_Result):
    """One evaluation of a face verifier champion on the faces registered in one window: the
    Auth service's confirmed identities make every pair's truth known (genuine or impostor)."""

    champion_version: str
    window_start: datetime
    window_end: datetime
    vectors: int
    identities: int
    threshold: float
    tar: float | None
    far: float | None
    target_tar: float
    genuine: ScoreSummary
    impostor: ScoreSummary
    drift: list[DriftTest]
    reference: str
