"""Per-photo summary statistics: what the server records about each input and what the input
drift tests compare (brightness, contrast, ink coverage). numpy only."""

import numpy as np

from mlops_assets.constants import PHOTO_FEATURES, PIXEL_MAX


def photo_features(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Summaries of grey levels shaped (n, 64) or (n, 8, 8) in 0..PIXEL_MAX.

    Returns:
        One float array of length n per name in `PHOTO_FEATURES`, each in 0..1.
    """
    array = np.asarray(pixels, dtype=np.float64)
    if array.size == 0:
        # No photos (an empty window) or photos without pixels: summaries of the right length.
        return dict.fromkeys(PHOTO_FEATURES, np.zeros(len(array)))
    grey = array.reshape(len(array), -1) / PIXEL_MAX
    return {
        "mean_grey": grey.mean(axis=1),
        "grey_spread": grey.std(axis=1),
        "ink_share": (grey > 0.5).mean(axis=1),
    }
