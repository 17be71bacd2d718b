"""Holdout metrics: confusion matrix, per-class recall, accuracy, their table and plot."""

import numpy as np

from mlops_assets.ml import metrics


def test_confusion_counts_pairs_over_every_label():
    matrix = metrics.confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]))
    assert matrix.shape == (10, 10) and matrix.sum() == 4
    assert (matrix[0, 0], matrix[0, 1], matrix[1, 1], matrix[2, 2]) == (1, 1, 1, 1)
    assert metrics.accuracy(matrix) == 0.75


def test_per_class_accuracy_leaves_absent_classes_empty():
    per_class = metrics.per_class_accuracy(
        metrics.confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]))
    )
    assert per_class[0] == 0.5 and per_class[1] == 1.0 and per_class[9] is None


def test_an_empty_holdout_scores_zero_and_still_renders():
    empty = metrics.confusion_matrix(np.array([], int), np.array([], int))
    assert metrics.accuracy(empty) == 0.0
    assert metrics.confusion_markdown(empty).count("\n") == 11
    assert metrics.confusion_png(empty, "empty").startswith(b"\x89PNG")
