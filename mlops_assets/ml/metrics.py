"""Accuracy figures and their pictures for the verification report and the champion monitor."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mlops_assets.constants import LABELS  # noqa: E402
from mlops_assets.contracts.monitoring import MonitorReport  # noqa: E402


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts (true label, predicted label) pairs over the known label set."""
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> dict[int, float | None]:
    """Recall of each class; None for a class absent from the holdout."""
    totals = matrix.sum(axis=1)
    return {
        label: (float(matrix[label, label] / totals[label]) if totals[label] else None)
        for label in LABELS
    }


def accuracy(matrix: np.ndarray) -> float:
    """Share of correct predictions (0 for an empty matrix)."""
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


def confusion_markdown(matrix: np.ndarray) -> str:
    """Renders the matrix as a markdown table, rows true labels, columns predictions (labels
    0..n-1 for an n×n matrix)."""
    labels = range(len(matrix))
    header = "| true \\ pred | " + " | ".join(str(label) for label in labels) + " |"
    rule = "|---" * (len(labels) + 1) + "|"
    rows = [
        f"| **{label}** | " + " | ".join(str(int(v)) for v in matrix[label]) + " |"
        for label in labels
    ]
    return "\n".join([header, rule, *rows])


def confusion_png(matrix: np.ndarray, title: str) -> bytes:
    """Draws the matrix as a PNG heat map."""
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            axes.text(col, row, int(value), ha="center", va="center", fontsize=7)
    labels = list(range(len(matrix)))
    axes.set(xticks=labels, yticks=labels, xlabel="predicted", ylabel="true", title=title)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def monitor_history_png(reports: list[MonitorReport]) -> bytes:
    """Live accuracy with its interval and each drift score over the windows, thresholds drawn."""
    ends = [r.window_end for r in reports]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    accuracy = [r.accuracy.accuracy for r in reports]
    low = [r.accuracy.low if r.accuracy.low is not None else np.nan for r in reports]
    high = [r.accuracy.high if r.accuracy.high is not None else np.nan for r in reports]
    top.fill_between(ends, low, high, alpha=0.2, label="95% interval")
    top.plot(ends, [np.nan if a is None else a for a in accuracy], "o-", label="live accuracy")
    if reports:
        top.axhline(reports[-1].target_accuracy, color="red", linestyle="--", label="target")
    top.set(ylabel="accuracy", ylim=(0.4, 1.0), title="champion on confirmed tasks")
    top.legend(loc="lower left", fontsize=8)
    names = sorted({t.name for r in reports for t in r.drift})
    for name in names:
        scores = [next((t.statistic for t in r.drift if t.name == name), None) for r in reports]
        bottom.plot(ends, [np.nan if s is None else s for s in scores], ".-", label=name)
    for test in reports[-1].drift if reports else []:
        bottom.axhline(test.threshold, color="grey", linestyle=":", linewidth=1)
    bottom.set(ylabel="drift score", ylim=(0, 1), xlabel="window end")
    bottom.legend(loc="upper left", fontsize=7)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
