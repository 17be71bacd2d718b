"""The face verifier's data checks, called directly on snapshots built from synthetic months."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.graph.face_checks import enough_identities, identities_disjoint, vectors_valid
from mlops_assets.ml.face_data import FaceSnapshot, face_snapshot

SCENARIO = FaceScenario(identities_per_month=12, vectors_per_identity=4)


@pytest.fixture(scope="module")
def snapshot() -> FaceSnapshot:
    rows = [
        {
            **e.model_dump(include={"event_id", "helper_id", "captured_at", "camera"}),
            "vector": e.vector,
        }
        for month in (1, 2)
        for e in month_face_events(SCENARIO, month)
    ]
    frame = pd.DataFrame(rows)
    end = pd.Timestamp(SCENARIO.calendar.month_start(3))
    return face_snapshot(frame, "2024-02-01", end, end + pd.Timedelta(days=400))


def test_a_sound_snapshot_passes_every_data_check(snapshot):
    assert enough_identities(snapshot).passed
    assert identities_disjoint(snapshot).passed
    assert vectors_valid(snapshot).passed


def test_an_identity_on_two_sides_fails_and_is_named(snapshot):
    leaked = snapshot.holdout.iloc[:1].copy()
    spoiled = dataclasses.replace(snapshot, train=pd.concat([snapshot.train, leaked]))
    result = identities_disjoint(spoiled)
    assert not result.passed
    assert leaked["helper_id"].iloc[0] in result.metadata["observed"].value


@pytest.mark.parametrize(
    ("vector", "reason"),
    [
        (np.zeros(128), "zero vector"),
        (np.full(128, 0.5), "not L2-normalised"),
        (np.r_[np.nan, np.ones(127) / np.sqrt(127)], "non-finite"),
        (np.ones(64) / 8.0, "64 values"),
    ],
)
def test_a_bad_vector_fails_with_its_reason(snapshot, vector, reason):
    holdout = snapshot.holdout.copy()
    holdout.at[0, "vector"] = vector
    result = vectors_valid(dataclasses.replace(snapshot, holdout=holdout))
    assert not result.passed
    assert reason in result.metadata["observed"].value


def test_a_holdout_without_genuine_pairs_fails(snapshot):
    single = snapshot.holdout.drop_duplicates("helper_id")
    result = enough_identities(dataclasses.replace(snapshot, holdout=single))
    assert not result.passed
