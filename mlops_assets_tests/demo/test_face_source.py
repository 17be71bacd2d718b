"""Synthetic face vectors: seeded, unit-norm, grouped by identity, valid registrations over the
photo demo's months, with the camera changing in the photo demo's drift month."""

import numpy as np
import pytest

from mlops_assets.contracts.events import parse_event
from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION, FaceVectorRegisteredEvent
from mlops_assets.demo.face_source import (
    CAMERAS,
    SOURCE,
    FaceScenario,
    demo_face_events,
    month_face_events,
    synthetic_face_vectors,
)
from mlops_assets.demo.source import Scenario


def test_vectors_are_seeded_unit_rows_grouped_by_identity():
    vectors, identity = synthetic_face_vectors(20, 4, seed=1)
    assert vectors.shape == (80, FACE_VECTOR_DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert identity.tolist() == [i for i in range(20) for _ in range(4)]
    again, _ = synthetic_face_vectors(20, 4, seed=1)
    assert np.array_equal(vectors, again)
    assert not np.array_equal(vectors, synthetic_face_vectors(20, 4, seed=2)[0])


def test_captures_of_one_identity_are_closer_than_captures_of_two():
    vectors, identity = synthetic_face_vectors(200, 5, seed=3)
    scores = vectors @ vectors.T
    same = identity[:, None] == identity[None, :]
    off_diagonal = ~np.eye(len(identity), dtype=bool)
    assert scores[same & off_diagonal].mean() > scores[~same].mean() + 0.2


def test_the_new_camera_moves_vectors_of_the_same_identities():
    old, _ = synthetic_face_vectors(50, 4, seed=5, camera=0)
    new, _ = synthetic_face_vectors(50, 4, seed=5, camera=1)
    assert not np.allclose(old, new)
    # Same seed, same identities: the centroids are shared, only the captures differ.
    old_centroid = old.reshape(50, 4, -1).mean(axis=1)
    new_centroid = new.reshape(50, 4, -1).mean(axis=1)
    scores = old_centroid @ new_centroid.T
    assert np.diag(scores).min() > np.max(scores[~np.eye(50, dtype=bool)])


def test_a_month_of_registrations_is_valid_and_spread_over_the_month():
    scenario = FaceScenario(identities_per_month=5, vectors_per_identity=3)
    events = month_face_events(scenario, 2)
    assert len(events) == 15 and len({e.event_id for e in events}) == 15
    for event in events:
        assert parse_event(event.to_json(), FaceVectorRegisteredEvent) == event
    start, end = scenario.calendar.month_start(2), scenario.calendar.month_start(3)
    times = [e.captured_at for e in events]
    assert times == sorted(times) and start <= times[0] and times[-1] < end
    assert {e.helper_id for e in events} == {f"synthetic-helper-02-{i:04d}" for i in range(5)}
    assert month_face_events(scenario, 2) == events


def test_the_camera_changes_with_the_photo_demo_drift_month():
    scenario = FaceScenario(identities_per_month=2, vectors_per_identity=2)
    change = Scenario().drift_month
    assert {e.camera for e in month_face_events(scenario, change - 1)} == {CAMERAS[0]}
    assert {e.camera for e in month_face_events(scenario, change)} == {CAMERAS[1]}
    moved = FaceScenario(identities_per_month=2, vectors_per_identity=2, camera_change_month=3)
    assert {e.camera for e in month_face_events(moved, 3)} == {CAMERAS[1]}


def test_the_demo_covers_the_photo_demo_months_and_says_synthetic():
    scenario = FaceScenario(identities_per_month=1, vectors_per_identity=2)
    events = demo_face_events(scenario)
    assert len(events) == 2 * Scenario().months
    assert events[0].captured_at >= Scenario().start
    assert all("synthetic" in text for e in events for text in (e.source, e.camera, e.helper_id))
    assert SOURCE == events[0].source


@pytest.mark.parametrize("month", [1, 24])
def test_months_do_not_share_helpers(month):
    scenario = FaceScenario(identities_per_month=3, vectors_per_identity=2)
    other = 12
    assert not {e.helper_id for e in month_face_events(scenario, month)} & {
        e.helper_id for e in month_face_events(scenario, other)
    }
