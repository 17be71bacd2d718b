"""Paired correctness of two models built from the cells of a 2 x 2 table."""

import numpy as np


def table(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Challenger and champion correctness with a both right, b only the challenger right,
    c only the champion right, d both wrong."""
    challenger = np.array([1] * a + [1] * b + [0] * c + [0] * d, dtype=bool)
    champion = np.array([1] * a + [0] * b + [1] * c + [0] * d, dtype=bool)
    return challenger, champion
