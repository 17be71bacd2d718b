"""AccuracyVerifier and PerformanceVerifier: how a model version is scored on the holdout."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlops_assets.ml import metrics
from mlops_assets.ml.predictor import Predictor, measure_latency


@dataclass(frozen=True)
class AccuracyResult:
    """Holdout accuracy, per class and overall, and each row's correctness (row order)."""

    accuracy: float
    per_class_accuracy: dict[int, float | None]
    confusion: np.ndarray
    correct: np.ndarray


@dataclass(frozen=True)
class PerformanceResult:
    """Load time and single-sample latency percentiles, in seconds."""

    load_seconds: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float


class AccuracyVerifier:
    """Scores a predictor on labelled holdout inputs."""

    def verify(self, predictor: Predictor, x: np.ndarray, y: np.ndarray) -> AccuracyResult:
        """Predicts the whole holdout in one batch and compares with the labels.

        Args:
            predictor: the model under test.
            x: holdout inputs.
            y: holdout labels.

        Returns:
            Accuracy figures, the confusion matrix and per-row correctness (what the paired
            champion/challenger test reads).
        """
        predicted = predictor.predict_inputs(x).labels if len(x) else np.zeros(0, np.int64)
        confusion = metrics.confusion_matrix(y, predicted)
        return AccuracyResult(
            accuracy=metrics.accuracy(confusion),
            per_class_accuracy=metrics.per_class_accuracy(confusion),
            confusion=confusion,
            correct=np.asarray(predicted) == np.asarray(y),
        )


class PerformanceVerifier:
    """Times loading and single-sample inference through the serving predictor."""

    def __init__(self, samples: int = 200, warmup: int = 20):
        self.samples = samples
        self.warmup = warmup

    def verify(
        self, load: Callable[[], Predictor], x: np.ndarray
    ) -> tuple[Predictor, PerformanceResult]:
        """Loads the model with `load`, then times one-sample calls on rows of `x`.

        Args:
            load: loads and warms the predictor (what the server does on a swap).
            x: inputs to cycle through.

        Returns:
            The loaded predictor and its timings.
        """
        started = time.perf_counter()
        predictor = load()
        load_seconds = time.perf_counter() - started
        profile = measure_latency(predictor, x, self.samples, self.warmup)
        return predictor, PerformanceResult(load_seconds, profile.p50, profile.p95, profile.p99)
