"""Synthetic face vectors for the demo: seeded identities registering over the photo demo's months.

Stands in for the Auth service. No face data set can be downloaded here, so every vector is
synthetic, generated from a seeded world:

- each synthetic identity has a centroid on the unit sphere inside a low-rank identity subspace;
- each capture adds within-identity variation: strong variation along a few shared nuisance
  directions (pose, light: what a learned projection must learn to ignore) plus weak
  isotropic noise, and is L2-normalised as an embedding model's output is;
- from `camera_change_month` on, captures come from a new synthetic camera whose nuisance
  directions differ: a projection learned before the change no longer ignores them, so
  verification degrades until the model retrains on new-camera vectors.

The same scenario always gives the same identities, vectors, ids and times.
"""

import functools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION, FaceVectorRegisteredEvent
from mlops_assets.demo.source import Scenario

SOURCE = "demo-synthetic-auth"
CAMERAS = ("synthetic-camera-a", "synthetic-camera-b")


@dataclass(frozen=True)
class SyntheticFaceWorld:
    """The seeded geometry every synthetic face vector is drawn from."""

    seed: int = 23
    dimension: int = FACE_VECTOR_DIMENSION
    identity_rank: int = 24
    nuisance_rank: int = 16
    nuisance_scale: float = 0.3
    noise_scale: float = 0.08


@functools.cache
def _bases(world: SyntheticFaceWorld) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The identity subspace and each camera's nuisance directions (orthonormal columns)."""
    rng = np.random.default_rng(world.seed)

    def orthonormal(rank: int) -> np.ndarray:
        basis, _ = np.linalg.qr(rng.normal(size=(world.dimension, rank)))
        return basis

    identity = orthonormal(world.identity_rank)
    return identity, tuple(orthonormal(world.nuisance_rank) for _ in CAMERAS)


def synthetic_face_vectors(
    identities: int,
    per_identity: int,
    *,
    seed: int,
    camera: int = 0,
    world: SyntheticFaceWorld = SyntheticFaceWorld(),
) -> tuple[np.ndarray, np.ndarray]:
    """Draws synthetic identities and their captures.

    Args:
        identities: how many new synthetic identities.
        per_identity: captures of each.
        seed: seeds the identities and captures (not the world).
        camera: 0 for the first synthetic camera, 1 for the camera after the change.
        world: the shared geometry.

    Returns:
        `(vectors, identity)`: unit-norm float64 rows of `world.dimension` values, grouped by
        identity, and each row's identity index in `0..identities-1`.
    """
    subspace, nuisances = _bases(world)
    rng = np.random.default_rng(seed)
    centroids = rng.normal(size=(identities, world.identity_rank)) @ subspace.T
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    identity = np.repeat(np.arange(identities), per_identity)
    count = len(identity)
    vectors = (
        centroids[identity]
        + world.nuisance_scale * rng.normal(size=(count, world.nuisance_rank)) @ nuisances[camera].T
        + world.noise_scale * rng.normal(size=(count, world.dimension))
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, identity


@dataclass(frozen=True)
class FaceScenario:
    """Synthetic helpers registering their faces over the photo demo's months (1-based)."""

    calendar: Scenario = field(default_factory=Scenario)
    world: SyntheticFaceWorld = field(default_factory=SyntheticFaceWorld)
    identities_per_month: int = 40
    vectors_per_identity: int = 10
    camera_change_month: int | None = None

    def camera(self, month: int) -> int:
        """The synthetic camera of a month: 0 before the change, 1 from it on (by default the
        change comes in the month the photo demo's camera changes)."""
        change = self.camera_change_month or self.calendar.drift_month
        return int(month >= change)


def month_face_vectors(scenario: FaceScenario, month: int) -> tuple[np.ndarray, list[str]]:
    """One month's synthetic captures as arrays: the vectors and each one's helper id."""
    vectors, identity = synthetic_face_vectors(
        scenario.identities_per_month,
        scenario.vectors_per_identity,
        seed=scenario.world.seed * 1000 + month,
        camera=scenario.camera(month),
        world=scenario.world,
    )
    return vectors, [f"synthetic-helper-{month:02d}-{i:04d}" for i in identity]


def month_face_events(scenario: FaceScenario, month: int) -> list[FaceVectorRegisteredEvent]:
    """Builds one month's synthetic face registrations, oldest first.

    Args:
        scenario: the replayed period.
        month: 1-based month of the scenario.

    Returns:
        `identities_per_month × vectors_per_identity` events with times spread over the month.
    """
    vectors, helpers = month_face_vectors(scenario, month)
    calendar = scenario.calendar
    start = calendar.month_start(month)
    seconds = (calendar.month_start(month + 1) - start).total_seconds()
    rng = np.random.default_rng([scenario.world.seed, month])
    offsets = np.sort(rng.uniform(0, seconds, size=len(helpers)))
    order = rng.permutation(len(helpers))  # captures of one helper are spread over the month
    namespace = uuid.UUID(int=scenario.world.seed)
    camera = CAMERAS[scenario.camera(month)]
    return [
        FaceVectorRegisteredEvent(
            event_id=str(uuid.uuid5(namespace, f"face-{month}-{i}")),
            helper_id=helpers[row],
            vector=vectors[row].tolist(),
            captured_at=start + timedelta(seconds=float(offset)),
            camera=camera,
            source=SOURCE,
        )
        for i, (row, offset) in enumerate(zip(order, offsets, strict=True))
    ]


def demo_face_events(scenario: FaceScenario = FaceScenario()) -> list[FaceVectorRegisteredEvent]:
    """Builds every month's synthetic face registrations of the scenario, oldest first."""
    return [
        event
        for month in range(1, scenario.calendar.months + 1)
        for event in month_face_events(scenario, month)
    ]
