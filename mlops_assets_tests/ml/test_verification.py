"""AccuracyVerifier: accuracy, confusion and the per-row correctness the paired test reads."""

import numpy as np

from mlops_assets.ml.verification import AccuracyVerifier


class FixedPredictor:
    """Answers the given labels, in row order (a stand-in for a loaded model)."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict_inputs(self, x):
        return type("Prediction", (), {"labels": self.labels[: len(x)]})()


def test_per_row_correctness_matches_the_labels_in_row_order():
    y = np.array([0, 1, 2, 3, 4])
    result = AccuracyVerifier().verify(FixedPredictor([0, 1, 9, 3, 0]), np.zeros((5, 8, 8, 1)), y)
    assert result.correct.tolist() == [True, True, False, True, False]
    assert result.accuracy == result.correct.mean() == 0.6
    assert int(result.confusion.sum()) == 5


def test_an_empty_holdout_has_no_correctness():
    result = AccuracyVerifier().verify(
        FixedPredictor([]), np.zeros((0, 8, 8, 1)), np.zeros(0, np.int64)
    )
    assert result.correct.tolist() == [] and result.accuracy == 0.0
