"""Risk feature rows as good upstream champions would give them (ml and serving tests)."""

import numpy as np

from mlops_assets.ml.risk_data import risk_features


def synthetic_rows(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features as good upstream champions would give them: an impostor pair scores low, a
    wrong label gets a low probability."""
    rng = np.random.default_rng(seed)
    impostor = rng.random(n) < 0.2
    wrong = rng.random(n) < 0.2
    labels = rng.integers(0, 10, n)
    top = rng.uniform(0.6, 0.99, n)
    probabilities = np.repeat(((1 - top) / 9)[:, None], 10, axis=1)
    probabilities[np.arange(n), labels] = top
    confirmed = np.where(wrong, (labels + 1) % 10, labels)
    scores = np.where(impostor, rng.normal(0.05, 0.1, n), rng.normal(0.75, 0.1, n))
    frame = risk_features(probabilities, confirmed, scores)
    return frame.to_numpy(), (impostor | wrong).astype(int)
