"""The paired bootstrap over identities of two face verifiers, vectorised.

Resampling identities with replacement is the same as giving each identity a weight, the
number of times it was drawn: a genuine pair of identity i then counts w_i times (the pairs
within each copy), an impostor pair of identities i and j counts w_i * w_j times (every copy
of one with every copy of the other; two copies of one identity are never impostors). So the
pairs are scored once, up front, by both models on the same pairs, and each resample only
reweights them: TAR at the threshold from per-identity counts, EER from weighted cumulative
sums over score histograms binned once. The resampling is the one of `paired_bootstrap` (Efron &
Tibshirani 1993, ch. 13), at a fraction of its cost (bench/paired.py: EER over 5,000
identities took 448 s pair-drawing per resample).
"""

import numpy as np

from mlops_assets.retraining.paired import PairedInputError
from mlops_assets.retraining.paired_bootstrap import BootstrapComparison, summarize

CHUNK = 50  # resamples weighted at once
BINS = 2048  # score bins of the EER


def _pairs(identities: np.ndarray, max_impostor_pairs: int, seed: int):
    """Row indices of every genuine pair and of (up to `max_impostor_pairs`) impostor pairs."""
    order = np.argsort(identities, kind="stable")
    ids = identities[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    genuine = [
        order[s:t][np.array(np.triu_indices(t - s, 1))] for s, t in zip(starts, ends, strict=True)
    ]
    genuine = np.concatenate(genuine, axis=1) if genuine else np.zeros((2, 0), np.int64)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(ids), size=(2, max_impostor_pairs))
    keep = identities[a] != identities[b]
    return genuine, np.vstack([a[keep], b[keep]])


def _scores(embedded: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", embedded[pairs[0]], embedded[pairs[1]])


def _eer_from_histograms(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    """EER per row of two weighted score histograms (resamples x bins, low scores first):
    accept from the highest bin down, take the cut where the two error rates meet."""
    accepted_genuine = np.cumsum(genuine[:, ::-1], axis=1)
    accepted_impostor = np.cumsum(impostor[:, ::-1], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fnr = 1 - accepted_genuine / accepted_genuine[:, -1:]
        fpr = accepted_impostor / accepted_impostor[:, -1:]
    gap = np.abs(fnr - fpr)
    valid = np.isfinite(gap).any(axis=1)
    at = np.argmin(np.where(np.isfinite(gap), gap, np.inf), axis=1)
    rows = np.arange(len(gap))
    return np.where(valid, (fnr[rows, at] + fpr[rows, at]) / 2, np.nan)


class _Model:
    """One verifier's scores on the shared pairs, and its metric under identity weights.

    For the EER the scores are binned once into `BINS` quantile bins of the model's own
    scores (the EER is read to within a bin: 1/BINS of the pairs); a resample's histograms
    are a matrix product (genuine, per identity) and one weighted bincount (impostor).
    """

    def __init__(self, embedded, threshold, genuine, impostor, codes, groups, metric):
        self.metric = metric
        genuine_codes = codes[genuine[0]]
        self.impostor_codes = codes[impostor]
        genuine_scores = _scores(embedded, genuine)
        self.matches = np.bincount(
            genuine_codes, weights=genuine_scores >= threshold, minlength=groups
        )
        if metric != "eer":
            return
        impostor_scores = _scores(embedded, impostor)
        edges = np.quantile(np.r_[genuine_scores, impostor_scores], np.linspace(0, 1, BINS + 1))
        genuine_bins, self.impostor_bins = (
            np.clip(np.searchsorted(edges, s, "right") - 1, 0, BINS - 1)
            for s in (genuine_scores, impostor_scores)
        )
        self.genuine_histograms = (
            np.bincount(genuine_codes * BINS + genuine_bins, minlength=groups * BINS)
            .reshape(groups, BINS)
            .astype(np.float32)
        )

    def values(self, counts: np.ndarray, pairs_per_group: np.ndarray) -> np.ndarray:
        """The metric per row of `counts` (resamples x identities: times drawn)."""
        if self.metric == "tar_at_far":
            with np.errstate(invalid="ignore", divide="ignore"):
                return (counts @ self.matches) / (counts @ pairs_per_group)
        genuine = counts.astype(np.float32) @ self.genuine_histograms
        a, b = self.impostor_codes
        impostor = np.stack(
            [np.bincount(self.impostor_bins, weights=w[a] * w[b], minlength=BINS) for w in counts]
        )
        return _eer_from_histograms(genuine, impostor)


def verifier_bootstrap(
    challenger: tuple[np.ndarray, float],
    champion: tuple[np.ndarray, float],
    identities: np.ndarray,
    metric: str,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
    max_impostor_pairs: int = 100_000,
) -> BootstrapComparison:
    """Challenger against champion verifier on TAR at each one's threshold or on EER,
    resampling the holdout's identities (seeded).

    Args:
        challenger: the challenger's L2-normalised embeddings of the holdout rows and its
            threshold.
        champion: the same for the champion, on the same rows in the same order.
        identities: each holdout row's identity.
        metric: `tar_at_far` (higher is better) or `eer` (lower is better).
        resamples: identity resamples.
        seed: seeds the impostor pairs and the resampling.
        confidence: the percentile interval's level.
        alpha: the level of the smallest detectable improvement.
        max_impostor_pairs: impostor pairs drawn once (with replacement) for the EER.

    Raises:
        PairedInputError: no row, the two models embedded different rows, embeddings that
            are not numbers, no genuine pair, or an unknown metric.
    """
    if metric not in ("tar_at_far", "eer"):
        raise PairedInputError(f"no paired bootstrap for {metric!r}")
    identities = np.asarray(identities)
    (ch_embedded, ch_threshold), (cp_embedded, cp_threshold) = challenger, champion
    ch_embedded, cp_embedded = np.asarray(ch_embedded), np.asarray(cp_embedded)
    if len(identities) == 0:
        raise PairedInputError("the holdout is empty")
    if not len(ch_embedded) == len(cp_embedded) == len(identities):
        raise PairedInputError(
            f"the challenger embedded {len(ch_embedded)} rows, the champion "
            f"{len(cp_embedded)}, for {len(identities)} identities: not the same holdout"
        )
    for who, array, threshold in (
        ("challenger", ch_embedded, ch_threshold),
        ("champion", cp_embedded, cp_threshold),
    ):
        if not (np.isfinite(array).all() and np.isfinite(threshold)):
            raise PairedInputError(f"the {who}'s embeddings or threshold are not numbers")
    labels, codes = np.unique(identities, return_inverse=True)
    genuine, impostor = _pairs(identities, max_impostor_pairs, seed)
    if genuine.shape[1] == 0:
        raise PairedInputError("no identity has two rows: no genuine pair to judge")
    if impostor.shape[1] == 0:
        raise PairedInputError("a single identity: no impostor pair to judge")
    groups = len(labels)
    per_group = np.bincount(codes[genuine[0]], minlength=groups).astype(float)
    models = [
        _Model(e, t, genuine, impostor, codes, groups, metric)
        for e, t in ((ch_embedded, ch_threshold), (cp_embedded, cp_threshold))
    ]
    sign = 1.0 if metric == "tar_at_far" else -1.0
    ones = np.ones((1, groups))
    challenger_value, champion_value = (float(m.values(ones, per_group)[0]) for m in models)
    rng = np.random.default_rng(seed)
    differences = []
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        drawn = rng.integers(0, groups, size=(size, groups))
        counts = np.stack([np.bincount(row, minlength=groups) for row in drawn]).astype(float)
        differences.append(
            sign * (models[0].values(counts, per_group) - models[1].values(counts, per_group))
        )
    differences = np.concatenate(differences)
    return summarize(
        differences,
        metric,
        groups,
        (challenger_value, champion_value),
        sign,
        confidence,
        seed,
        alpha,
    )
