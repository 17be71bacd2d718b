"""The face-vector contract: a valid registration round-trips; a vector of the wrong dimension,
with a non-finite value, all zeros or not normalised is refused with its reason."""

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.contracts.events import REASON_MAX_CHARS, InvalidEvent, parse_event
from mlops_assets.contracts.face_events import (
    FACE_REGISTERED_QUEUE,
    FACE_VECTOR_DIMENSION,
    NORM_TOLERANCE,
    FaceVectorRegisteredEvent,
)
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets_tests.support import hostile
from mlops_assets_tests.support.fleet_files import EXAMPLE_FLEET_FILE

UNIT = [1.0] + [0.0] * (FACE_VECTOR_DIMENSION - 1)


def face_event(**overrides) -> dict:
    event = {
        "event_id": "f-1",
        "schema_version": 1,
        "event_type": "FaceVectorRegisteredEvent",
        "helper_id": "helper-1",
        "vector": UNIT,
        "captured_at": "2025-03-01T12:00:00Z",
        "camera": "gate-camera-a",
        "source": "auth",
    }
    event.update(overrides)
    return event


def reason(event: dict) -> str:
    with pytest.raises(InvalidEvent) as error:
        parse_event(json.dumps(event).encode(), FaceVectorRegisteredEvent)
    return error.value.reason


def test_a_registration_round_trips_and_is_stored_in_utc():
    raw = face_event(captured_at="2025-03-01T14:00:00+02:00")
    event = parse_event(json.dumps(raw).encode(), FaceVectorRegisteredEvent)
    assert event.captured_at == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert event.captured_at.utcoffset().total_seconds() == 0
    assert parse_event(event.to_json(), FaceVectorRegisteredEvent) == event


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        (UNIT[:-1], "vector: wrong dimension: 127 values where a face vector has 128"),
        (UNIT + [0.0], "vector: wrong dimension: 129 values"),
        ([], "vector: wrong dimension: 0 values"),
        ([0.0] * FACE_VECTOR_DIMENSION, "vector: a zero vector"),
        ([0.5] + UNIT[1:], "vector: not L2-normalised: its norm is 0.5"),
        ([1.01] + UNIT[1:], "not L2-normalised: its norm is 1.01, not 1 ± 0.001"),
        (["1.0"] + UNIT[1:], "vector.0: Input should be a valid number"),
        ([True] + UNIT[1:], "vector.0: Input should be a valid number"),
        ([None] + UNIT[1:], "vector.0: Input should be a valid number"),
        ("1,0,0", "vector: Input should be a valid array"),
    ],
)
def test_bad_vectors_are_refused_with_the_reason(vector, expected):
    assert expected in reason(face_event(vector=vector))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused_with_their_position(value):
    vector = UNIT[:5] + [value] + UNIT[6:]
    body = json.dumps(face_event(vector=vector)).encode()  # Python writes NaN / Infinity
    with pytest.raises(InvalidEvent) as error:
        parse_event(body, FaceVectorRegisteredEvent)
    assert f"vector: a non-finite value {value!r} at position 5" in error.value.reason


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"helper_id": "h\x00"}, "helper_id: control character U+0000"),
        ({"camera": ""}, "camera: String should have at least 1 character"),
        ({"captured_at": "2025-03-01T12:00:00"}, "captured_at"),
        ({"captured_at": "1999-01-01T00:00:00Z"}, "MLOPS_EVENTS_EARLIEST_CONFIRMED_AT"),
        ({"event_type": "TaskConfirmedEvent"}, "event_type 'TaskConfirmedEvent'"),
        ({"schema_version": 2}, "unknown schema_version 2"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_the_rest_is_as_strict_as_task_events(overrides, expected):
    assert expected in reason(face_event(**overrides))


def test_missing_source_is_named():
    raw = face_event()
    del raw["source"]
    assert "source: Field required" in reason(raw)


unit_vectors = (
    st.lists(
        st.floats(-1, 1, allow_nan=False),
        min_size=FACE_VECTOR_DIMENSION,
        max_size=FACE_VECTOR_DIMENSION,
    )
    .filter(lambda v: math.hypot(*v) > 1e-3)
    .map(lambda v: (np.asarray(v) / np.linalg.norm(v)).tolist())
)


@settings(max_examples=200, deadline=None)
@given(unit_vectors)
def test_any_unit_vector_is_accepted_and_kept_exactly(vector):
    event = parse_event(json.dumps(face_event(vector=vector)).encode(), FaceVectorRegisteredEvent)
    assert event.vector == vector


@settings(max_examples=200, deadline=None)
@given(unit_vectors, st.floats(0, 1e6, allow_nan=False))
def test_a_scaled_vector_is_accepted_exactly_within_the_tolerance(vector, scale):
    scaled = [value * scale for value in vector]
    norm = math.hypot(*scaled)
    try:
        parse_event(json.dumps(face_event(vector=scaled)).encode(), FaceVectorRegisteredEvent)
        accepted = True
    except InvalidEvent as error:
        accepted = False
        assert ("zero vector" if norm == 0 else "not L2-normalised") in error.reason
    assert accepted == (norm > 0 and abs(norm - 1) <= NORM_TOLERANCE)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3 * FACE_VECTOR_DIMENSION).filter(lambda n: n != FACE_VECTOR_DIMENSION))
def test_any_other_dimension_is_refused(count):
    vector = [1 / math.sqrt(count)] * count if count else []
    assert f"wrong dimension: {count} values" in reason(face_event(vector=vector))


@settings(max_examples=500, deadline=None)
@given(hostile.bodies)
def test_parse_never_raises_anything_but_invalid_event(raw):
    try:
        parse_event(raw, FaceVectorRegisteredEvent)
    except InvalidEvent as error:
        assert 0 < len(error.reason) <= REASON_MAX_CHARS


def test_the_fleet_reads_face_vectors_from_the_contract_queue():
    source = load_fleet(EXAMPLE_FLEET_FILE).model("face_verifier").source
    assert (source.kind, source.queue) == ("face_vectors", FACE_REGISTERED_QUEUE)
