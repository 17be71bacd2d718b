"""The champion monitor's statistics and the samples they compare.

Plain numpy and scipy.stats: live accuracy with a Wilson interval, two-sample
Kolmogorov-Smirnov tests on per-photo summaries (`ml.photo_stats`, input drift), and a
chi-square test with the total variation distance on the predicted labels (prediction drift).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import stats

from mlops_assets.constants import LABELS, PHOTO_FEATURES, PIXEL_COUNT
from mlops_assets.contracts.monitoring import DriftTest, LiveAccuracy, MonitorReport
from mlops_assets.ml.photo_stats import photo_features


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
    return [
        ks_drift(f"input:{name}", reference[name], window[name], threshold, alpha)
        for name in PHOTO_FEATURES
    ]


def ks_drift(
    name: str, reference: np.ndarray, window: np.ndarray, threshold: float, alpha: float
) -> DriftTest:
    """Kolmogorov-Smirnov test of one sample, the reference's against the window's.

    Returns:
        The test called `name`; statistic and p-value are None when a side is empty.
    """
    ref, win = np.asarray(reference), np.asarray(window)
    statistic = p_value = None
    if len(ref) and len(win):
        result = stats.ks_2samp(ref, win)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return DriftTest(
        name=name,
        kind="ks_2samp",
        statistic=statistic,
        p_value=p_value,
        n_reference=len(ref),
        n_window=len(win),
        threshold=threshold,
        alpha=alpha,
    )


def label_counts(labels: np.ndarray) -> np.ndarray:
    """How often each label in `LABELS` occurs."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(LABELS))[: len(LABELS)]


def prediction_drift(
    reference: np.ndarray,
    window: np.ndarray,
    threshold: float,
    alpha: float,
    name: str = "prediction:label_shares",
) -> DriftTest:
    """Chi-square test of two label distributions; the effect is their total variation
    distance (0 = same shares, 1 = disjoint).

    Args:
        reference: the champion's predicted labels on its holdout (or the holdout's confirmed
            labels, for the label-shift test).
        window: the labels it served (or would serve) in the window (or the window's
            confirmed labels).
        threshold: the distance above which a shift counts as drift.
        alpha: the significance the test must also reach.
        name: the test's name in the report.
    """
    ref, win = label_counts(reference), label_counts(window)
    statistic = p_value = None
    if ref.sum() and win.sum():
        seen = (ref + win) > 0
        table = np.vstack([ref[seen], win[seen]])
        p_value = float(stats.chi2_contingency(table).pvalue) if seen.sum() > 1 else 1.0
        statistic = float(0.5 * np.abs(ref / ref.sum() - win / win.sum()).sum())
    return DriftTest(
        name=name,
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
    """When a drift test counts (the model spec's `monitor`, or the settings' overrides)."""

    input_statistic: float
    prediction_distance: float
    alpha: float


@dataclass(frozen=True)
class MonitorInputs:
    """What one monitor evaluation compares.

    Args:
        reference_features: photo summaries of the champion's newest training data.
        window_features: photo summaries of the window's photos (served, else confirmed).
        reference_predicted: the champion's labels on its holdout.
        reference_labels: the holdout's confirmed labels.
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
    reference_labels: np.ndarray | None = None


def _pixels(frame: pd.DataFrame) -> np.ndarray:
    if frame.empty:
        return np.zeros((0, PIXEL_COUNT))
    return np.stack(frame["pixels"].to_list())


def gather_inputs(
    predict: Callable[[np.ndarray], np.ndarray],
    champion_version: str,
    reference: pd.DataFrame,
    holdout: pd.DataFrame,
    confirmed: pd.DataFrame,
    served: pd.DataFrame,
) -> MonitorInputs:
    """Joins the window's confirmed tasks to what was served and assembles the samples.

    Args:
        predict: the champion's labels for grey levels shaped (n, 64).
        champion_version: its version; served rows of other versions judge no accuracy.
        reference: store rows (pixels) the input-drift tests compare the window with.
        holdout: store rows whose predicted labels the prediction-drift test compares with.
        confirmed: store rows (task_id, label, pixels) confirmed in the window.
        served: prediction-log rows served in the window.

    Returns:
        The samples: a confirmed task with a served prediction by the champion (same task id)
        counts the first served label; the rest are scored now. Input and prediction drift use the
        served rows when there are any, else the confirmed photos.
    """
    mine = served[served["model_version"].astype(str) == champion_version]
    # The first prediction of a task is the one served to it; a later one (anyone may send a
    # task id) must not replace it.
    tagged = mine.dropna(subset=["task_id"])
    if "served_at" in tagged:
        tagged = tagged.sort_values("served_at", kind="stable")
    served_label = tagged.drop_duplicates("task_id", keep="first")
    served_label = served_label.set_index("task_id")["label"]
    joined = confirmed["task_id"].map(served_label) if len(confirmed) else pd.Series(dtype=float)
    missing = joined.isna().to_numpy()
    predicted = joined.to_numpy(dtype=np.float64, na_value=-1).astype(np.int64)
    if missing.any():
        predicted[missing] = predict(_pixels(confirmed[missing]))
    if len(served):
        window_features = {name: served[name].to_numpy() for name in PHOTO_FEATURES}
        window_predicted = mine["label"].to_numpy(dtype=np.int64)
    else:
        window_features = photo_features(_pixels(confirmed))
        window_predicted = predicted
    holdout_pixels = _pixels(holdout)
    return MonitorInputs(
        reference_features=photo_features(_pixels(reference)),
        window_features=window_features,
        reference_predicted=predict(holdout_pixels) if len(holdout_pixels) else np.array([], int),
        window_predicted=window_predicted,
        confirmed_predicted=predicted,
        confirmed_labels=confirmed["label"].to_numpy(dtype=np.int64),
        joined_served=int((~missing).sum()),
        served_predictions=len(served),
        reference_labels=holdout["label"].to_numpy(dtype=np.int64),
    )


def monitor_report(
    champion_version: str,
    window: tuple[datetime, datetime],
    inputs: MonitorInputs,
    thresholds: DriftThresholds,
    target_accuracy: float,
    reference: str,
) -> MonitorReport:
    """Computes live accuracy, input drift, prediction drift and label shift for one window.

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
            # Labels are ground truth here: a shift in what people confirm is a label shift,
            # seen even while the champion misreads the new class as others.
            *(
                [
                    prediction_drift(
                        inputs.reference_labels,
                        inputs.confirmed_labels,
                        thresholds.prediction_distance,
                        thresholds.alpha,
                        name="labels:confirmed_shares",
                    )
                ]
                if inputs.reference_labels is not None
                else []
            ),
        ],
        target_accuracy=target_accuracy,
        reference=reference,
    )
