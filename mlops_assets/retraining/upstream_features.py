"""A downstream model's features from its upstream models' champions: each upstream's
`@champion` loaded from its registered model (hash-checked) and applied to the synthetic
confirmations (`ml.risk_data`).

The feature reader of an upstream is chosen by its source kind (`FEATURE_SOURCES` in the model
spec: the photo classifier gives class probabilities, the face verifier a pair's score).
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.backends.face_model_contract import load_face_verifier
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.ml.predictor import Predictor
from mlops_assets.ml.risk_data import risk_features

NO_CHAMPION = "none"


class MissingUpstreamChampion(RuntimeError):
    """An upstream model has no `@champion` to read features from."""


@dataclass(frozen=True)
class UpstreamChampion:
    """One upstream model's champion as the features are made with it."""

    spec: ModelSpec
    registry: RegistryClient
    model: RegisteredModel | None

    @property
    def version(self) -> str:
        """The champion's version, or "none"."""
        return self.model.version if self.model else NO_CHAMPION


def upstream_champions(
    upstream: list[ModelSpec], registry_for: Callable[[str], RegistryClient]
) -> list[UpstreamChampion]:
    """Each upstream model's current `@champion` (None where it has none).

    Args:
        upstream: the upstream models' specs.
        registry_for: the registry client of a registered model name.
    """
    champions = []
    for spec in upstream:
        registry = registry_for(spec.registry_name)
        champions.append(UpstreamChampion(spec, registry, registry.champion()))
    return champions


def versions(champions: list[UpstreamChampion]) -> dict[str, str]:
    """Each upstream model's champion version by model name ("none" where it has none)."""
    return {c.spec.name: c.version for c in champions}


def require_champions(champions: list[UpstreamChampion], downstream: str) -> None:
    """Raises MissingUpstreamChampion naming every upstream without a champion."""
    missing = [c.spec.name for c in champions if c.model is None]
    if missing:
        raise MissingUpstreamChampion(
            f"{downstream} reads its features from the champions of {', '.join(missing)}, "
            "which have none yet: promote a version of each first"
        )


def photo_probabilities(champion: UpstreamChampion, pixels: np.ndarray) -> np.ndarray:
    """The photo classifier champion's class probabilities of each photo (n, 64 grey levels)."""
    with tempfile.TemporaryDirectory(prefix="upstream-photo-") as scratch:
        path = champion.registry.download_version(champion.model.version, scratch)
        predictor = Predictor.load(path, champion.model.sha256)
    return predictor.predict_pixels(pixels).probabilities


def face_scores(champion: UpstreamChampion, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The face verifier champion's cosine score of each pair (row i of first and second)."""
    with tempfile.TemporaryDirectory(prefix="upstream-face-") as scratch:
        folder = champion.registry.download_version_folder(champion.model.version, scratch)
        verifier = load_face_verifier(folder, champion.model.sha256)
    return verifier.scores(first, second)


def confirmation_features(
    confirmations: pd.DataFrame, champions: list[UpstreamChampion]
) -> pd.DataFrame:
    """The feature rows of the synthetic confirmations, made by the upstream champions.

    Args:
        confirmations: `ml.risk_data.synthetic_confirmations` rows.
        champions: one champion of a task_photos and one of a face_vectors model.

    Returns:
        `RISK_FEATURES` plus `task_id`, `confirmed_at` and `risky`, one row per confirmation.
    """
    by_kind = {c.spec.source.kind: c for c in champions}
    if confirmations.empty:
        probabilities = np.zeros((0, 10))
        scores = np.zeros(0)
    else:
        probabilities = photo_probabilities(
            by_kind["task_photos"], np.stack(confirmations["pixels"].to_list())
        )
        scores = face_scores(
            by_kind["face_vectors"],
            np.stack(confirmations["face_first"].to_list()),
            np.stack(confirmations["face_second"].to_list()),
        )
    features = risk_features(probabilities, confirmations["confirmed_label"].to_numpy(), scores)
    for column in ("task_id", "confirmed_at", "risky"):
        features[column] = confirmations[column].to_numpy()
    return features
