"""Champion against challenger on the same holdout: McNemar's exact test on per-sample
correctness, the paired accuracy difference with its interval, and the test's power.

Both models answer the same photos, so their accuracies are not independent: only the
discordant photos (one model right, the other wrong) carry evidence about which is better
(McNemar 1947; Dietterich 1998 recommends this test for two classifiers on one test set).
Metrics without a per-sample form (TAR at a FAR, EER) go through `paired_bootstrap`.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, stats

POWER = 0.80


class PairedInputError(ValueError):
    """The two models' answers cannot be compared: empty, unequal lengths or not numbers."""


@dataclass(frozen=True)
class McNemarComparison:
    """Challenger against champion on per-sample correctness of one holdout.

    `difference`, `low` and `high` are challenger accuracy minus champion accuracy (a positive
    difference: the challenger is better); `p_value` is the one-sided exact p that it is better.
    """

    n: int
    both_right: int
    b: int  # only the challenger right
    c: int  # only the champion right
    both_wrong: int
    challenger_accuracy: float
    champion_accuracy: float
    difference: float
    low: float
    high: float
    confidence: float
    p_value: float
    p_value_two_sided: float
    alpha: float
    minimum_detectable: float | None  # None: this holdout can never show a difference

    @property
    def discordant(self) -> int:
        return self.b + self.c

    @property
    def reason(self) -> str:
        """The comparison in one line of numbers, as the report and the events quote it."""
        return describe(self.difference, self.low, self.high, self.confidence, self.p_value) + (
            f" at n = {self.n} (b = {self.b}, c = {self.c})"
        )

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    def as_metadata(self) -> dict[str, float | int | str]:
        """Flat entries for Dagster metadata and MLflow tags (None becomes the string 'none')."""
        return {
            **{f"paired_{k}": ("none" if v is None else v) for k, v in self.as_dict().items()},
            "paired_reason": self.reason,
        }


def describe(difference: float, low: float, high: float, confidence: float, p: float) -> str:
    """'challenger +0.7 points, 95 % interval -2.1..+3.5, p = 0.50' (points: hundredths)."""
    shown = f"{p:.2g}" if p < 0.01 else f"{p:.2f}"
    return (
        f"challenger {difference * 100:+.1f} points, {confidence * 100:.0f} % interval "
        f"{low * 100:+.1f}..{high * 100:+.1f}, p = {shown}"
    )


def correctness(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-sample correctness (booleans) of predicted labels against the true ones.

    Raises:
        PairedInputError: the two arrays differ in length.
    """
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape:
        raise PairedInputError(f"{predicted.shape} predictions for {truth.shape} labels")
    return predicted == truth


def _as_correct(values: np.ndarray, who: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise PairedInputError(f"the {who}'s correctness is not one value per sample")
    if array.dtype != bool:
        numbers = array.astype(np.float64)
        if not np.isfinite(numbers).all():
            raise PairedInputError(f"the {who}'s correctness holds values that are not numbers")
        if not np.isin(numbers, (0.0, 1.0)).all():
            raise PairedInputError(f"the {who}'s correctness holds values other than 0 and 1")
        array = numbers == 1.0
    return array


def compare_correctness(
    challenger: np.ndarray,
    champion: np.ndarray,
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> McNemarComparison:
    """McNemar's exact test and Newcombe's interval for two models on the same samples.

    The p-value is the exact conditional test: under "equally good", b of the b + c discordant
    samples is Binomial(b + c, 1/2) (`scipy.stats.binomtest`, one-sided: challenger better).
    The interval of the difference of paired proportions is Newcombe's hybrid score interval
    (Newcombe 1998, Statistics in Medicine 17:2635, method 10): Wilson intervals of the two
    accuracies combined with the correlation of the paired answers.

    Args:
        challenger: per-sample correctness of the challenger (bool, or 0/1).
        champion: per-sample correctness of the champion on the same samples, same order.
        alpha: significance level, for the smallest detectable difference.
        confidence: the interval's confidence level.

    Raises:
        PairedInputError: no sample, different lengths (they answered different samples),
            or values that are not 0/1.
    """
    ch, cp = _as_correct(challenger, "challenger"), _as_correct(champion, "champion")
    if len(ch) != len(cp):
        raise PairedInputError(
            f"the challenger answered {len(ch)} samples, the champion {len(cp)}: "
            "not the same holdout"
        )
    if len(ch) == 0:
        raise PairedInputError("the holdout is empty")
    n = len(ch)
    a, b = int(np.sum(ch & cp)), int(np.sum(ch & ~cp))
    c, d = int(np.sum(~ch & cp)), int(np.sum(~ch & ~cp))
    low, high = newcombe_interval(a, b, c, d, confidence)
    return McNemarComparison(
        n=n,
        both_right=a,
        b=b,
        c=c,
        both_wrong=d,
        challenger_accuracy=(a + b) / n,
        champion_accuracy=(a + c) / n,
        difference=(b - c) / n,
        low=low,
        high=high,
        confidence=confidence,
        p_value=mcnemar_p(b, c),
        p_value_two_sided=mcnemar_p(b, c, "two-sided"),
        alpha=alpha,
        minimum_detectable=minimum_detectable_difference(n, b + c, alpha),
    )


def mcnemar_p(b: int, c: int, alternative: str = "greater") -> float:
    """Exact McNemar p-value: b successes of b + c fair coin flips (1.0 with no discordance).

    `greater` is the one-sided p that the model counted by `b` is better.
    """
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5, alternative=alternative).pvalue)


def newcombe_interval(a: int, b: int, c: int, d: int, confidence: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) of p1 - p2 = (b - c) / n for paired
    proportions, where p1 = (a + b) / n and p2 = (a + c) / n."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, confidence)
    l2, u2 = _wilson(a + c, n, confidence)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    # Newcombe's correlation estimate, with his continuity adjustment of a positive ad - bc.
    cross = a * d - b * c
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0
    phi = cross / math.sqrt(margins) if margins else 0.0
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    difference = p1 - p2
    return max(-1.0, difference - below), min(1.0, difference + above)


def _wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    interval = stats.binomtest(successes, n).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def critical_count(discordant: int, alpha: float) -> int | None:
    """The smallest b at which McNemar's exact one-sided test rejects at `alpha` among
    `discordant` pairs, or None when no b can (too few discordant pairs)."""
    counts = np.arange(discordant + 1)
    rejecting = np.flatnonzero(stats.binom.sf(counts - 1, discordant, 0.5) < alpha)
    return int(rejecting[0]) if len(rejecting) else None


def minimum_detectable_difference(
    n: int, discordant: int, alpha: float, power: float = POWER
) -> float | None:
    """The smallest accuracy difference McNemar's exact test detects with `power` at `alpha`.

    Exact conditional power given the holdout's own discordance: with m = `discordant` pairs
    and critical count k (`critical_count`), the test rejects when b >= k, which happens with
    probability P(Binomial(m, pi) >= k) when a discordant pair favours the challenger with
    probability pi. The pi reaching `power` is solved for (scipy's brentq), and the difference
    it means is (m / n)(2 pi - 1).

    Returns:
        The difference in accuracy (0.05 = five points), or None when the holdout has too few
        discordant pairs for the test ever to reject: then no difference is detectable.
    """
    k = critical_count(discordant, alpha)
    if k is None:
        return None
    pi = optimize.brentq(
        lambda p: stats.binom.sf(k - 1, discordant, p) - power, 0.5, 1.0, xtol=1e-10
    )
    return discordant / n * (2 * pi - 1)
