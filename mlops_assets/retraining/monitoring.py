"""The champion monitor's statistics and the health verdict behind `champion_health_sensor`.

Plain numpy and scipy.stats: live accuracy with a Wilson interval, two-sample
Kolmogorov-Smirnov tests on per-photo summaries (`ml.photo_stats`, input drift), and a
chi-square test with the total variation distance on the predicted labels (prediction drift).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from scipy import stats

from mlops_assets.constants import LABELS, PHOTO_FEATURES
from mlops_assets.contracts.monitoring import DriftTest, LiveAccuracy, MonitorReport


def live_accuracy(
    predicted: np.ndarray, confirmed: np.ndarray, confidence: float = 0.95, joined_served: int = 0
) -> LiveAccuracy:
    """Accuracy of predicted against confirmed labels, with its Wilson score interval.

    Args:
        predicted: the champion's labels for the confirmed tasks.
        confirmed: the labels people confirmed (ground truth).
        confidence: the interval's confidence level.
        joined_served: how many of the predictions were the served ones (joined by task id);
            the rest were scored now.

    Returns:
        The estimate; accuracy and interval are None with no confirmed task.
    """
    n = len(confirmed)
    correct = int(np.sum(np.asarray(predicted) == np.asarray(confirmed)))
    if n == 0:
        return LiveAccuracy(
            n=0, correct=0, accuracy=None, low=None, high=None, confidence=confidence
        )
    interval = stats.binomtest(correct, n).proportion_ci(confidence, method="wilson")
    return LiveAccuracy(
        n=n,
        correct=correct,
        accuracy=correct / n,
        low=float(interval.low),
        high=float(interval.high),
        confidence=confidence,
        joined_served=joined_served,
        scored_now=n - joined_served,
    )


def input_drift(
    reference: dict[str, np.ndarray],
    window: dict[str, np.ndarray],
    threshold: float,
    alpha: float,
) -> list[DriftTest]:
    """Kolmogorov-Smirnov tests of each photo summary, reference photos against the window's.

    Args:
        reference: `ml.photo_stats.photo_features` of the photos the champion was trained on.
        window: the same summaries of the window's photos (served or confirmed).
        threshold: the KS statistic (0..1) above which a shift counts as drift.
        alpha: the significance the test must also reach.

    Returns:
        One test per summary in `PHOTO_FEATURES`; statistic and p-value are None when a side
        is empty.
    """
    tests = []
    n_ref, n_win = len(reference[PHOTO_FEATURES[0]]), len(window[PHOTO_FEATURES[0]])
    for name in PHOTO_FEATURES:
        ref, win = np.asarray(reference[name]), np.asarray(window[name])
        statistic = p_value = None
        if n_ref and n_win:
            result = stats.ks_2samp(ref, win)
            statistic, p_value = float(result.statistic), float(result.pvalue)
        tests.append(
            DriftTest(
                name=f"input:{name}",
                kind="ks_2samp",
                statistic=statistic,
                p_value=p_value,
                n_reference=n_ref,
                n_window=n_win,
                threshold=threshold,
                alpha=alpha,
            )
        )
    return tests


def label_counts(labels: np.ndarray) -> np.ndarray:
    """How often each label in `LABELS` occurs."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(LABELS))[: len(LABELS)]


def prediction_drift(
    reference: np.ndarray, window: np.ndarray, threshold: float, alpha: float
) -> DriftTest:
    """Chi-square test of the predicted-label distributions; the effect is their total
    variation distance (0 = same shares, 1 = disjoint).

    Args:
        reference: the champion's predicted labels on its holdout.
        window: the labels it served (or would serve) in the window.
        threshold: the distance above which a shift counts as drift.
        alpha: the significance the test must also reach.
    """
    ref, win = label_counts(reference), label_counts(window)
    statistic = p_value = None
    if ref.sum() and win.sum():
        seen = (ref + win) > 0
        table = np.vstack([ref[seen], win[seen]])
        p_value = float(stats.chi2_contingency(table).pvalue) if seen.sum() > 1 else 1.0
        statistic = float(0.5 * np.abs(ref / ref.sum() - win / win.sum()).sum())
    return DriftTest(
        name="prediction:label_shares",
        kind="chi2_contingency",
        statistic=statistic,
        p_value=p_value,
        n_reference=int(ref.sum()),
        n_window=int(win.sum()),
        threshold=threshold,
        alpha=alpha,
    )


@dataclass(frozen=True)
class DriftThresholds:
    """When a drift test counts (README, configuration table)."""

    input_statistic: float = 0.3
    prediction_distance: float = 0.2
    alpha: float = 0.01


@dataclass(frozen=True)
class MonitorInputs:
    """What one monitor evaluation compares.

    Args:
        reference_features: photo summaries of the champion's newest training data.
        window_features: photo summaries of the window's photos (served, else confirmed).
        reference_predicted: the champion's labels on its holdout.
        window_predicted: the labels it served in the window (else its labels for the
            window's confirmed photos).
        confirmed_predicted: its label for each task confirmed in the window.
        confirmed_labels: the confirmed labels of those tasks.
        joined_served: how many of `confirmed_predicted` are served predictions joined by task id.
        served_predictions: predictions recorded in the window.
    """

    reference_features: dict[str, np.ndarray]
    window_features: dict[str, np.ndarray]
    reference_predicted: np.ndarray
    window_predicted: np.ndarray
    confirmed_predicted: np.ndarray
    confirmed_labels: np.ndarray
    joined_served: int = 0
    served_predictions: int = 0


def monitor_report(
    champion_version: str,
    window: tuple[datetime, datetime],
    inputs: MonitorInputs,
    thresholds: DriftThresholds,
    target_accuracy: float,
    reference: str,
) -> MonitorReport:
    """Computes live accuracy, input drift and prediction drift for one window.

    Args:
        champion_version: the version that served in the window.
        window: [start, end) of the window.
        inputs: the samples to compare.
        thresholds: when a drift test counts.
        target_accuracy: the accuracy the champion should keep (the promotion gate's).
        reference: where the reference samples came from, in words.
    """
    return MonitorReport(
        champion_version=champion_version,
        window_start=window[0],
        window_end=window[1],
        served_predictions=inputs.served_predictions,
        accuracy=live_accuracy(
            inputs.confirmed_predicted,
            inputs.confirmed_labels,
            joined_served=inputs.joined_served,
        ),
        drift=[
            *input_drift(
                inputs.reference_features,
                inputs.window_features,
                thresholds.input_statistic,
                thresholds.alpha,
            ),
            prediction_drift(
                inputs.reference_predicted,
                inputs.window_predicted,
                thresholds.prediction_distance,
                thresholds.alpha,
            ),
        ],
        target_accuracy=target_accuracy,
        reference=reference,
    )


@dataclass(frozen=True)
class HealthPolicy:
    """When the evidence justifies a retraining run (README, configuration table)."""

    target_accuracy: float = 0.90
    min_samples: int = 100
    cooldown: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class HealthVerdict:
    """The health sensor's verdict on one monitor report."""

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


def health_verdict(
    report: MonitorReport,
    policy: HealthPolicy,
    last_trigger_at: datetime | None,
    now: datetime,
) -> HealthVerdict:
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
        return HealthVerdict(None, evidence, None, f"{verdict}: {evidence}")
    if last_trigger_at is not None and now - last_trigger_at < policy.cooldown:
        waited = now - last_trigger_at
        return HealthVerdict(
            trigger,
            evidence,
            None,
            f"{trigger} evidence, but in cooldown: last trigger {waited.total_seconds() / 3600:.1f}"
            f" h ago, cooldown {policy.cooldown.total_seconds() / 3600:.1f} h: {evidence}",
        )
    run_key = (
        f"champion-health-{trigger}-v{report.champion_version}-{report.window_end:%Y%m%dT%H%M%S}"
    )
    return HealthVerdict(trigger, evidence, run_key, f"{trigger}: {evidence}")
