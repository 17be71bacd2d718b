"""A paired bootstrap over groups (identities) for metrics without a per-sample form.

TAR at a FAR and EER are computed over pairs of vectors, so no exact test applies. Both models
are scored on the same resamples of the holdout: groups are drawn with replacement (a group
drawn twice counts as two groups), each model's metric is computed on the resampled rows, and
the percentile interval of the difference is read off the resamples (Efron & Tibshirani 1993,
ch. 13; resampling whole identities keeps the pairs of one identity together).
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from mlops_assets.ml.face_metrics import equal_error_rate, pair_scores
from mlops_assets.retraining.paired import POWER, PairedInputError, describe

# A metric of one model on a resample: (row indices into the holdout, a copy label per row)
# -> the metric's value. Each copy holds all its group's rows, contiguous; a group drawn twice
# appears as two copies with distinct labels; a
# metric over pairs of rows must not count a pair across two copies of one group as an impostor
# pair (they are the same person): `verification_metric` builds such metrics.
ResampledMetric = Callable[[np.ndarray, np.ndarray], float]
VERIFICATION_METRICS = ("tar_at_far", "eer")


@dataclass(frozen=True)
class BootstrapComparison:
    """Challenger against champion on one metric, resampled by group.

    `difference`, `low` and `high` are the challenger's improvement over the champion in the
    metric's better direction (challenger − champion when higher is better, champion −
    challenger when lower is better): positive means the challenger is better.
    """

    metric: str
    n: int  # groups in the holdout
    challenger_value: float
    champion_value: float
    difference: float
    low: float
    high: float
    confidence: float
    p_value: float  # one-sided: the share of resamples in which the challenger is not better
    resamples: int  # resamples with a finite value for both models
    failed_resamples: int
    seed: int
    # (z(1 - alpha) + z(power)) times the resamples' standard deviation: the normal
    # approximation of the smallest improvement the holdout detects at alpha with 80 % power.
    minimum_detectable: float | None = None

    @property
    def reason(self) -> str:
        """The comparison in one line of numbers, as the report and the events quote it."""
        summary = describe(self.difference, self.low, self.high, self.confidence, self.p_value)
        return f"{self.metric}: {summary} at n = {self.n} groups ({self.resamples} resamples)"

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)

    def as_metadata(self) -> dict[str, float | int | str]:
        """Flat entries for Dagster metadata and MLflow tags."""
        return {
            **{f"paired_{k}": v for k, v in self.as_dict().items()},
            "paired_reason": self.reason,
        }


def _value(metric: ResampledMetric, rows: np.ndarray, labels: np.ndarray) -> float:
    try:
        return float(metric(rows, labels))
    except ValueError:  # a resample the metric cannot judge (e.g. no genuine pair)
        return float("nan")


def paired_bootstrap(
    challenger: ResampledMetric,
    champion: ResampledMetric,
    groups: np.ndarray,
    *,
    metric: str,
    higher_is_better: bool,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> BootstrapComparison:
    """Compares two models on a metric by resampling the holdout's groups, seeded.

    Args:
        challenger: the challenger's metric on a resample (see `ResampledMetric`).
        champion: the champion's metric on the same resample.
        groups: each holdout row's group (identity); rows of one group are resampled together.
        metric: the metric's name, for the reason.
        higher_is_better: the metric's direction (`contracts.gate_spec.METRICS`).
        resamples: how many resamples (at least 1,000 for a usable interval).
        seed: seeds the resampling: the same seed gives the same result.
        confidence: the percentile interval's level.
        alpha: the significance level of the smallest detectable improvement.

    Returns:
        The difference on the whole holdout, its percentile interval and the one-sided p
        ((failures + 1) / (resamples + 1), with failures the resamples in which the challenger
        is not better).

    Raises:
        PairedInputError: no row, or a model's metric is not a finite number on the whole
            holdout (or on no resample).
    """
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) == 0:
        raise PairedInputError("the holdout is empty")
    labels, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(labels))]
    sign = 1.0 if higher_is_better else -1.0
    everything = np.arange(len(groups))
    challenger_value = _value(challenger, everything, inverse)
    champion_value = _value(champion, everything, inverse)
    for who, value in (("challenger", challenger_value), ("champion", champion_value)):
        if not np.isfinite(value):
            raise PairedInputError(f"the {who}'s {metric} on the holdout is {value}")
    rng = np.random.default_rng(seed)
    differences = np.empty(resamples)
    for i in range(resamples):
        drawn = rng.integers(0, len(labels), size=len(labels))
        rows = np.concatenate([members[g] for g in drawn])
        copies = np.repeat(np.arange(len(drawn)), [len(members[g]) for g in drawn])
        differences[i] = sign * (_value(challenger, rows, copies) - _value(champion, rows, copies))
    return summarize(
        differences,
        metric,
        len(labels),
        (challenger_value, champion_value),
        sign,
        confidence,
        seed,
        alpha,
    )


def detectable(differences: np.ndarray, alpha: float, power: float = POWER) -> float | None:
    """The smallest improvement a one-sided test at `alpha` detects with `power`, from the
    spread of bootstrap differences (normal approximation); None without spread."""
    spread = float(np.std(differences, ddof=1)) if len(differences) > 1 else 0.0
    if spread == 0.0:
        return None
    return float((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * spread)


def verification_metric(
    embedded: np.ndarray,
    identities: np.ndarray,
    threshold: float,
    metric: str,
    max_impostor_pairs: int = 500_000,
    seed: int = 0,
) -> ResampledMetric:
    """A face verifier's TAR at its threshold or its EER on a resample of identities.

    Genuine pairs are the pairs within one drawn copy of an identity (scored once, up front:
    a copy holds all its identity's rows); impostor pairs join rows of different original
    identities, so two copies of one identity never pose as impostors.

    Args:
        embedded: the verifier's L2-normalised embeddings of the holdout rows.
        identities: each holdout row's identity (the groups `paired_bootstrap` resamples).
        threshold: the verifier's threshold (TAR only).
        metric: `tar_at_far` or `eer`.
        max_impostor_pairs: impostor pairs drawn (with replacement) per resample for the EER.
        seed: seeds the impostor draws (the same for every resample's positions).
    """
    if metric not in VERIFICATION_METRICS:
        raise ValueError(f"{metric!r} is not one of {VERIFICATION_METRICS}")
    identities = np.asarray(identities)
    labels, codes, sizes = np.unique(identities, return_inverse=True, return_counts=True)
    genuine, _ = pair_scores(embedded, identities, 0, seed)  # grouped in `labels` order
    pairs = sizes * (sizes - 1) // 2
    by_identity = np.split(genuine, np.cumsum(pairs)[:-1])
    matches = np.array([np.sum(g >= threshold) for g in by_identity])

    def value(rows: np.ndarray, copies: np.ndarray) -> float:
        _, first = np.unique(copies, return_index=True)
        drawn = codes[rows[first]]
        if pairs[drawn].sum() == 0:
            raise ValueError("no genuine pair in the resample")
        if metric == "tar_at_far":
            return float(matches[drawn].sum() / pairs[drawn].sum())
        # The same seed on every call: both models are scored on the same impostor pairs.
        a, b = np.random.default_rng(seed).integers(0, len(rows), size=(2, max_impostor_pairs))
        keep = codes[rows[a]] != codes[rows[b]]
        if not keep.any():
            raise ValueError("no impostor pair in the resample")
        a, b = rows[a[keep]], rows[b[keep]]
        impostor = np.einsum("ij,ij->i", embedded[a], embedded[b])
        return equal_error_rate(np.concatenate([by_identity[g] for g in drawn]), impostor)

    return value


def summarize(
    differences: np.ndarray,
    metric: str,
    n: int,
    values: tuple[float, float],
    sign: float,
    confidence: float,
    seed: int,
    alpha: float,
) -> BootstrapComparison:
    """The comparison from resampled differences (challenger − champion, oriented so that
    positive is better): interval, one-sided p-value and the minimum detectable difference.

    Raises:
        PairedInputError: no resample gave a finite difference.
    """
    finite = differences[np.isfinite(differences)]
    if len(finite) == 0:
        raise PairedInputError(f"{metric} could not be computed on any resample")
    challenger_value, champion_value = values
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return BootstrapComparison(
        metric=metric,
        n=n,
        challenger_value=challenger_value,
        champion_value=champion_value,
        difference=sign * (challenger_value - champion_value),
        low=float(low),
        high=float(high),
        confidence=confidence,
        p_value=float((np.sum(finite <= 0) + 1) / (len(finite) + 1)),
        resamples=len(finite),
        failed_resamples=len(differences) - len(finite),
        seed=seed,
        minimum_detectable=detectable(finite, alpha),
    )
