"""The demo's model: the photo classifier of the shipped fleet (`task_photos`), whose spec gives
the target the demo's tables and plots draw."""

from datetime import timedelta
from functools import cache

from mlops_assets.constants import DEMO_MODEL
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.retraining.monitor_policy import MonitorPolicy
from mlops_assets.retraining.monitoring import DriftThresholds


@cache
def demo_spec() -> ModelSpec:
    """The shipped fleet's `task_photos` spec."""
    return load_fleet().model(DEMO_MODEL)


def target_accuracy() -> float:
    """The live accuracy the demo model's champion should keep (its monitor target)."""
    return demo_spec().monitor.target_value


def accuracy_gate_threshold() -> float:
    """The threshold of the demo model's accuracy gate (the first gate on accuracy against a
    threshold)."""
    return next(
        g.threshold
        for g in demo_spec().gates
        if g.metric == "accuracy" and g.against == "threshold" and g.threshold is not None
    )


def monitor_policy() -> MonitorPolicy:
    """The demo model's monitor policy, from its spec."""
    monitor = demo_spec().monitor
    return MonitorPolicy(
        monitor.target_value, monitor.min_samples, timedelta(hours=monitor.cooldown_hours)
    )


def drift_thresholds() -> DriftThresholds:
    """The demo model's drift thresholds, from its spec."""
    monitor = demo_spec().monitor
    return DriftThresholds(
        monitor.input_drift_threshold, monitor.prediction_drift_threshold, monitor.drift_alpha
    )


DEMO_NAMES = ModelNames(DEMO_MODEL)
