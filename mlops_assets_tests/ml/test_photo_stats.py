"""Per-photo summaries: values in 0..1, one per photo, and an empty window is no error."""

import numpy as np
import pytest

from mlops_assets.constants import PHOTO_FEATURES, PIXEL_COUNT, PIXEL_MAX
from mlops_assets.ml.photo_stats import photo_features


def test_each_summary_has_one_value_per_photo_in_range():
    pixels = np.stack([np.zeros(PIXEL_COUNT), np.full(PIXEL_COUNT, PIXEL_MAX)])
    features = photo_features(pixels)
    assert set(features) == set(PHOTO_FEATURES)
    assert features["mean_grey"].tolist() == [0.0, 1.0]
    assert features["ink_share"].tolist() == [0.0, 1.0]
    assert features["grey_spread"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("empty", [np.zeros((0, PIXEL_COUNT)), np.zeros((0, 8, 8)), []])
def test_an_empty_window_has_empty_summaries(empty):
    features = photo_features(empty)
    assert all(len(values) == 0 for values in features.values())
