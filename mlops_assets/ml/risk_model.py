"""The confirmation-risk model: a logistic regression on the upstream champions' features.

Fitted by scikit-learn's `LogisticRegression` on standardised features; the arrays its
`predict_proba` uses are kept, so the model saves as an `.npz` of plain arrays (no pickle), like
the face verifier.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

from mlops_assets.ml.risk_data import RISK_FEATURES

FORMAT_VERSION = 1
_SAVED = ("format_version", "mean", "scale", "coef", "intercept", "threshold")


@dataclass(frozen=True)
class RiskModel:
    """Scores feature rows (`RISK_FEATURES`, in order) with a logistic regression.

    Attributes:
        mean: the training features' mean (features,).
        scale: the training features' standard deviation (features,), zeros replaced by 1.
        coef: the weights of the standardised features (features,).
        intercept: the bias.
        threshold: the probability from which a confirmation is risky.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float = 0.5

    @property
    def features(self) -> tuple[str, ...]:
        return RISK_FEATURES

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """The risk probability of each feature row.

        Raises:
            ValueError: not rows of `len(RISK_FEATURES)` finite values.
        """
        rows = np.asarray(x, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(self.mean) or not np.isfinite(rows).all():
            raise ValueError(f"expected rows of {len(self.mean)} finite values, got {rows.shape}")
        logits = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        # 1 / (1 + e^-z), without overflow for large |z|.
        return np.exp(-np.logaddexp(0.0, -logits))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Whether each row is risky (probability at or above `threshold`)."""
        return self.probabilities(x) >= self.threshold

    def save(self, path: Path) -> None:
        """Writes the model as an `.npz` of plain arrays."""
        np.savez(
            path,
            format_version=np.int64(FORMAT_VERSION),
            mean=self.mean,
            scale=self.scale,
            coef=self.coef,
            intercept=np.float64(self.intercept),
            threshold=np.float64(self.threshold),
        )

    @classmethod
    def load(cls, path: Path) -> "RiskModel":
        """Reads a model `save` wrote, refusing pickles and inconsistent arrays.

        Raises:
            ValueError: another format, missing arrays, wrong shapes or non-finite values.
        """
        with np.load(path, allow_pickle=False) as data:
            try:
                arrays = {name: data[name] for name in _SAVED}
            except KeyError as missing:
                raise ValueError(f"{path}: not a risk model (no array {missing})") from None
        if int(arrays["format_version"]) != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {int(arrays['format_version'])}")
        shapes = {arrays[name].shape for name in ("mean", "scale", "coef")}
        if shapes != {(len(RISK_FEATURES),)}:
            raise ValueError(f"{path}: arrays shaped {shapes}, expected ({len(RISK_FEATURES)},)")
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise ValueError(f"{path}: non-finite values")
        return cls(
            arrays["mean"],
            arrays["scale"],
            arrays["coef"],
            float(arrays["intercept"]),
            float(arrays["threshold"]),
        )


class RiskTrainSettings(BaseModel):
    """The hyperparameters of `risk_logistic`."""

    inverse_regularization: float = Field(
        default=1.0, gt=0, description="LogisticRegression's C: larger fits the data closer."
    )
    max_iter: int = Field(default=500, ge=10, description="Solver iterations at most.")


@dataclass(frozen=True)
class RiskTrainResult:
    model: RiskModel
    seconds: float
    train_accuracy: float


def train_risk_logistic(
    x: np.ndarray, y: np.ndarray, settings: RiskTrainSettings | None = None
) -> RiskTrainResult:
    """Fits the risk model.

    Args:
        x: feature rows (n, len(RISK_FEATURES)).
        y: 0/1 risk labels (n,).
        settings: the hyperparameters (default `RiskTrainSettings()`).

    Raises:
        ValueError: the labels are not both present.
    """
    settings = settings or RiskTrainSettings()
    labels = np.asarray(y, dtype=np.int64)
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError(f"training needs risky and safe rows, got labels {np.unique(labels)}")
    started = time.perf_counter()
    rows = np.asarray(x, dtype=np.float64)
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    fitted = LogisticRegression(C=settings.inverse_regularization, max_iter=settings.max_iter)
    fitted.fit((rows - mean) / scale, labels)
    model = RiskModel(mean, scale, fitted.coef_[0].copy(), float(fitted.intercept_[0]))
    accuracy = float((model.predict(rows) == labels.astype(bool)).mean())
    return RiskTrainResult(model, time.perf_counter() - started, accuracy)
