"""Which events page a person, and what the alert says. A gate saying no (a defended or rejected
month) is a decision, not an alert; these are: a run that failed after its retries, the champion
below target, drift, a rollback. Each alert's key makes a repeat of the same event send nothing.
"""

from collections.abc import Mapping
from datetime import datetime

from mlops_assets.backends.notifier import Alert
from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.contracts.safe_text import printable, redact
from mlops_assets.retraining.monitor_policy import MonitorPolicy, describe_accuracy, describe_drift

MAX_RETRIES_TAG = "dagster/max_retries"
RETRY_NUMBER_TAG = "dagster/retry_number"


def will_be_retried(tags: Mapping[str, str], default_max_retries: int) -> bool:
    """Tells whether Dagster's run retries will start this failed run again.

    Args:
        tags: the failed run's tags (`dagster/max_retries`, `dagster/retry_number`).
        default_max_retries: the instance's `run_retries.max_retries` (0 when off).
    """
    max_retries = int(tags.get(MAX_RETRIES_TAG, default_max_retries))
    return int(tags.get(RETRY_NUMBER_TAG, 0)) < max_retries


def run_failed(job_name: str, run_id: str, error: str, attempt: int) -> Alert:
    """A run that broke, after its last retry (its error redacted)."""
    error = redact(error)
    return Alert(
        key=f"run-failed-{run_id}",
        summary=f"{job_name} failed (run {run_id[:8]}, attempt {attempt + 1}): {error[:300]}",
        severity="error",
        kind="run_failed",
        details={"job": job_name, "run_id": run_id, "attempt": attempt + 1, "error": error[:2000]},
    )


def _day(report: MonitorReport) -> str:
    # Once per champion and day: an hourly monitor's rolling window pages once a day at most.
    return f"v{report.champion_version}-{report.window_end:%Y-%m-%d}"


def monitor_alerts(report: MonitorReport, policy: MonitorPolicy) -> list[Alert]:
    """The champion below target and drift, each when its sample reaches the minimum."""
    alerts = []
    a = report.accuracy
    window = f"{report.window_start:%Y-%m-%d %H:%M} – {report.window_end:%Y-%m-%d %H:%M}"
    if a.accuracy is not None and a.accuracy < report.target_accuracy and a.n >= policy.min_samples:
        alerts.append(
            Alert(
                key=f"champion-below-target-{_day(report)}",
                summary=f"champion v{report.champion_version} below target: "
                f"{describe_accuracy(report)}",
                severity="critical",
                kind="champion_below_target",
                details={"window": window, "accuracy": a.model_dump()},
            )
        )
    drifted = [t for t in report.drift if t.drifted and t.n_window >= policy.min_samples]
    if drifted:
        alerts.append(
            Alert(
                key=f"drift-{_day(report)}",
                summary=f"drift on champion v{report.champion_version}: "
                + "; ".join(describe_drift(t) for t in drifted),
                severity="warning",
                kind="drift_detected",
                details={"window": window, **{t.name: t.statistic for t in drifted}},
            )
        )
    return alerts


def rolled_back(
    model_name: str, version: str, previous_version: str, reason: str, at: datetime
) -> Alert:
    """@champion moved back to an older version (at `at`: the same move may happen again)."""
    return Alert(
        key=f"rollback-{model_name}-v{previous_version}-to-v{version}-{at:%Y%m%dT%H%M%S.%f}",
        summary=f"{model_name} rolled back from v{previous_version} to v{version}: "
        f"{printable(redact(reason))}",
        severity="error",
        kind="rollback",
        details={"model": model_name, "version": version, "previous": previous_version},
    )
