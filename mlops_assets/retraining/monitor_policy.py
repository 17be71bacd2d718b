"""The monitor verdict behind `champion_monitor_sensor`: is a monitor report evidence enough for a
retraining run (performance or drift), with a minimum sample and a cooldown."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from mlops_assets.contracts.monitoring import DriftTest, MonitorReport


@dataclass(frozen=True)
class MonitorPolicy:
    """When the evidence justifies a retraining run (the model spec's `monitor`)."""

    target_accuracy: float
    min_samples: int
    cooldown: timedelta


@dataclass(frozen=True)
class MonitorVerdict:
    """The monitor sensor's verdict on one monitor report."""

    trigger: str | None
    evidence: str
    run_key: str | None
    reason: str

    @property
    def retrain(self) -> bool:
        return self.run_key is not None


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


def describe_accuracy(report: MonitorReport) -> str:
    """The accuracy evidence in words, numbers included."""
    a = report.accuracy
    return (
        f"live accuracy {_fmt(a.accuracy)} [{_fmt(a.low)}, {_fmt(a.high)}] on {a.n} confirmed "
        f"tasks (target {report.target_accuracy:.2f})"
    )


def describe_drift(test: DriftTest) -> str:
    """One drift test in words, numbers included."""
    return (
        f"{test.name} {_fmt(test.statistic)} (threshold {test.threshold:.2f}, "
        f"p={_fmt(test.p_value, '.2g')}, n={test.n_reference}/{test.n_window})"
    )


def monitor_verdict(
    report: MonitorReport,
    policy: MonitorPolicy,
    last_trigger_at: datetime | None,
    now: datetime,
) -> MonitorVerdict:
    """Decides whether a monitor report is evidence enough for a retraining run.

    Performance evidence: live accuracy below target on at least `min_samples` confirmed tasks.
    Drift evidence: a drift test past its threshold and significant on at least `min_samples`
    window photos. Either one starts a run, unless the last trigger is within the cooldown.

    Args:
        report: the newest `champion_monitor` report.
        policy: target, minimum sample, cooldown.
        last_trigger_at: when this sensor last requested a run; None if never.
        now: the evaluation time.

    Returns:
        The verdict; its run key names the champion, the window and the trigger, so the same
        evidence cannot start a second run.
    """
    a = report.accuracy
    below = a.accuracy is not None and a.accuracy < policy.target_accuracy
    drifted = [t for t in report.drift if t.drifted and t.n_window >= policy.min_samples]
    evidence = "; ".join([describe_accuracy(report), *(describe_drift(t) for t in report.drift)])
    if below and a.n >= policy.min_samples:
        trigger = "performance"
    elif drifted:
        trigger = "drift"
    else:
        problems = []
        if below:
            problems.append(f"accuracy below target but only {a.n} of {policy.min_samples} samples")
        small = [t.name for t in report.drift if t.drifted and t.n_window < policy.min_samples]
        if small:
            problems.append(
                f"drift in {', '.join(small)} on fewer than {policy.min_samples} photos"
            )
        verdict = "; ".join(problems) or "no evidence"
        return MonitorVerdict(None, evidence, None, f"{verdict}: {evidence}")
    if last_trigger_at is not None and now - last_trigger_at < policy.cooldown:
        waited = now - last_trigger_at
        return MonitorVerdict(
            trigger,
            evidence,
            None,
            f"{trigger} evidence, but in cooldown: last trigger {waited.total_seconds() / 3600:.1f}"
            f" h ago, cooldown {policy.cooldown.total_seconds() / 3600:.1f} h: {evidence}",
        )
    run_key = (
        f"champion-monitor-{trigger}-v{report.champion_version}-{report.window_end:%Y%m%dT%H%M%S}"
    )
    return MonitorVerdict(trigger, evidence, run_key, f"{trigger}: {evidence}")
