"""The face verifier: a learned projection of face vectors plus a cosine threshold.

Training fits Fisher's linear discriminant (scikit-learn's `LinearDiscriminantAnalysis`:
within-identity whitening, then the directions that separate identities) on some identities,
and the match threshold on other identities for a target false-accept rate. The threshold is
then applied unchanged to the identity-disjoint holdout (`face_metrics.evaluate`). The model is
two arrays and a number, saved as `.npz` without pickle.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from mlops_assets.ml.face_metrics import identity_disjoint_split, pair_scores, threshold_at_far

FORMAT_VERSION = 1
DEFAULT_COMPONENTS = 64


@dataclass(frozen=True)
class Verification:
    """One verify call's answer: the cosine score, the decision and the threshold used."""

    score: float
    match: bool
    threshold: float


@dataclass(frozen=True)
class FaceVerifier:
    """Projects face vectors, compares them by cosine, matches at a fitted threshold.

    Attributes:
        mean: the training vectors' mean, subtracted before projecting (dimension,).
        projection: the learned projection (dimension, components).
        threshold: the cosine score from which two vectors match.
        target_far: the false-accept rate the threshold was fitted for.
    """

    mean: np.ndarray
    projection: np.ndarray
    threshold: float
    target_far: float

    @property
    def dimension(self) -> int:
        return self.projection.shape[0]

    def embed(self, vectors: np.ndarray) -> np.ndarray:
        """Projects rows of face vectors and L2-normalises them (cosine = dot product).

        Raises:
            ValueError: not rows of `dimension` finite values.
        """
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dimension or not np.isfinite(x).all():
            raise ValueError(f"expected rows of {self.dimension} finite values, got {x.shape}")
        embedded = (x - self.mean) @ self.projection
        norms = np.linalg.norm(embedded, axis=1, keepdims=True)
        return embedded / np.where(norms == 0, 1.0, norms)

    def scores(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Cosine scores of pairs: row i of `first` against row i of `second`.

        Raises:
            ValueError: not two equally long stacks of `dimension` finite values.
        """
        if np.shape(first) != np.shape(second):
            raise ValueError(f"pairs need rows alike, got {np.shape(first)} and {np.shape(second)}")
        return np.einsum("ij,ij->i", self.embed(first), self.embed(second))

    def verify(self, first: np.ndarray, second: np.ndarray) -> Verification:
        """Whether two face vectors belong to one identity.

        Args:
            first: a face vector (dimension,).
            second: another face vector (dimension,).

        Returns:
            The cosine score of their projections, the match at `threshold`, the threshold.
        """
        pair = [np.asarray(v, dtype=np.float64) for v in (first, second)]
        if any(v.shape != (self.dimension,) for v in pair):
            shapes = [v.shape for v in pair]
            raise ValueError(
                f"expected two vectors of {self.dimension} finite values, got {shapes}"
            )
        a, b = self.embed(np.stack(pair))
        score = float(a @ b)
        return Verification(score=score, match=score >= self.threshold, threshold=self.threshold)

    def save(self, path: Path) -> None:
        """Writes the model as an uncompressed `.npz` of plain arrays (no pickle)."""
        np.savez(
            path,
            format_version=np.int64(FORMAT_VERSION),
            mean=self.mean,
            projection=self.projection,
            threshold=np.float64(self.threshold),
            target_far=np.float64(self.target_far),
        )

    @classmethod
    def load(cls, path: Path) -> "FaceVerifier":
        """Reads a model `save` wrote, refusing pickled objects and inconsistent arrays.

        Raises:
            ValueError: another format version, missing arrays, wrong shapes or non-finite
                values.
        """
        with np.load(path, allow_pickle=False) as data:
            try:
                arrays = {name: data[name] for name in _SAVED}
            except KeyError as missing:
                raise ValueError(f"{path}: not a face verifier (no array {missing})") from None
        if int(arrays["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {int(arrays['format_version'])}")
        mean, projection = arrays["mean"], arrays["projection"]
        if mean.ndim != 1 or projection.ndim != 2 or projection.shape[0] != mean.shape[0]:
            raise ValueError(f"{path}: mean {mean.shape} and projection {projection.shape}")
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise ValueError(f"{path}: non-finite values")
        return cls(mean, projection, float(arrays["threshold"]), float(arrays["target_far"]))


_SAVED = ("format_version", "mean", "projection", "threshold", "target_far")


def fit_projection(
    vectors: np.ndarray, identities: np.ndarray, components: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's linear discriminant: the directions that separate identities, whitened.

    Fitted by scikit-learn's `LinearDiscriminantAnalysis` (SVD solver); the arrays its
    `transform` uses are kept, so the model saves without pickle.

    Args:
        vectors: training face vectors, one a row.
        identities: each row's identity (any labels as an array).
        components: how many directions to keep (at most identities - 1 and dimension).

    Returns:
        `(mean, projection)`: `transform(x) == (x - mean) @ projection`, projection of shape
        (dimension, at most components).

    Raises:
        ValueError: fewer than two identities, or an identity with a single vector only.
    """
    labels, counts = np.unique(identities, return_counts=True)
    if len(labels) < 2 or counts.min() < 2:
        raise ValueError("training needs at least two identities with two vectors each")
    components = min(components, len(labels) - 1, vectors.shape[1])
    lda = LinearDiscriminantAnalysis(solver="svd", n_components=components)
    lda.fit(np.asarray(vectors, dtype=np.float64), identities)
    return lda.xbar_, np.ascontiguousarray(lda.scalings_[:, :components])


def train_face_verifier(
    vectors: np.ndarray,
    identities: np.ndarray,
    target_far: float = 1e-3,
    *,
    components: int = DEFAULT_COMPONENTS,
    validation_fraction: float = 0.2,
    max_impostor_pairs: int = 500_000,
    seed: int = 0,
) -> FaceVerifier:
    """Fits the projection on some identities and the threshold on the others.

    Args:
        vectors: face vectors, one a row (L2-normalised).
        identities: each row's identity.
        target_far: the false-accept rate the threshold is fitted for.
        components: projection size (see `fit_projection`).
        validation_fraction: share of identities kept out of the projection's fit to fit the
            threshold on (identity-disjoint, so the threshold sees unseen faces).
        max_impostor_pairs: impostor pairs sampled on the validation identities.
        seed: seeds the split and the sampling.

    Returns:
        The trained verifier.
    """
    fit, validation = identity_disjoint_split(identities, validation_fraction, seed)
    mean, projection = fit_projection(vectors[fit], identities[fit], components)
    verifier, _, _ = calibrate(
        FaceVerifier(mean, projection, threshold=1.0, target_far=target_far),
        vectors[validation],
        identities[validation],
        max_impostor_pairs,
        seed,
    )
    return verifier


def calibrate(
    untuned: FaceVerifier,
    vectors: np.ndarray,
    identities: np.ndarray,
    max_impostor_pairs: int = 500_000,
    seed: int = 0,
) -> tuple[FaceVerifier, np.ndarray, np.ndarray]:
    """Fits the match threshold for `untuned.target_far` on validation identities.

    Args:
        untuned: the verifier with its projection (its threshold is replaced).
        vectors: face vectors of identities the projection was not fitted on.
        identities: each row's identity.
        max_impostor_pairs: impostor pairs sampled (see `face_metrics.pair_scores`).
        seed: seeds the sampling.

    Returns:
        The verifier with the fitted threshold, and the validation genuine and impostor scores
        it was fitted from.
    """
    embedded = untuned.embed(vectors)
    genuine, impostor = pair_scores(embedded, identities, max_impostor_pairs, seed)
    threshold = threshold_at_far(impostor, untuned.target_far)
    tuned = FaceVerifier(untuned.mean, untuned.projection, threshold, untuned.target_far)
    return tuned, genuine, impostor


def verify_latency(
    verifier: FaceVerifier, vectors: np.ndarray, samples: int = 200, warmup: int = 20
) -> dict[str, float]:
    """Times single `verify` calls on consecutive pairs of rows, after warm-up.

    Returns:
        `{"p50": …, "p95": …, "p99": …}` in seconds.
    """
    timings = []
    for i in range(warmup + samples):
        first, second = vectors[i % len(vectors)], vectors[(i + 1) % len(vectors)]
        started = time.perf_counter()
        verifier.verify(first, second)
        if i >= warmup:
            timings.append(time.perf_counter() - started)
    p50, p95, p99 = np.percentile(timings, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}
