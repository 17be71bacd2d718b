"""Hypothesis strategies of hostile face-event bodies: valid `FaceVectorRegisteredEvent`s with
repeated event ids, and mutations of them (every field replaced, removed or joined by an extra
one; vectors of another dimension, with NaN or infinities, all zeros, scaled off the unit sphere,
or with a component that is not a number), beside `support.hostile`'s arbitrary bodies."""

import json
import math
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
from hypothesis import strategies as st

from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION
from mlops_assets_tests.support import hostile

FIELDS = ("event_id", "schema_version", "event_type", "helper_id", "vector", "captured_at")
FIELDS += ("camera", "source")


def unit_vectors(count: int, seed: int = 5) -> list[list[float]]:
    """`count` fixed unit vectors of the face dimension."""
    rows = np.random.default_rng(seed).normal(size=(count, FACE_VECTOR_DIMENSION))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).tolist()


VECTORS = unit_vectors(3)


def valid_face_events(ids: Sequence[str] = ("f-0", "f-1", "f-2")) -> st.SearchStrategy[dict]:
    """Valid face event bodies as dicts, with event ids drawn from `ids` (so a list of them
    holds identical and conflicting duplicates)."""
    return st.fixed_dictionaries(
        {
            "event_id": st.sampled_from(list(ids)),
            "schema_version": st.just(1),
            "event_type": st.just("FaceVectorRegisteredEvent"),
            "helper_id": st.sampled_from(["helper-1", "helper-2"]),
            "vector": st.sampled_from(VECTORS),
            "captured_at": st.sampled_from(
                ["2025-03-01T12:00:00Z", "2025-03-01T14:00:00+02:00", "2025-07-31T23:59:59Z"]
            ),
            "camera": st.sampled_from(["camera-a", "camera-b"]),
            "source": st.just("auth"),
        }
    )


@st.composite
def hostile_vectors(draw) -> list:
    """A valid vector made invalid in one way (or, scaled by about 1, still valid)."""
    vector = list(draw(st.sampled_from(VECTORS)))
    how = draw(st.sampled_from(["length", "non-finite", "zero", "scale", "component"]))
    if how == "length":
        count = draw(st.integers(0, 2 * FACE_VECTOR_DIMENSION + 1))
        return (vector * 3)[:count]
    if how == "zero":
        return [0.0] * FACE_VECTOR_DIMENSION
    if how == "scale":
        factor = draw(st.floats(0, 10, allow_nan=False) | st.floats(0.9995, 1.0005))
        return [value * factor for value in vector]
    index = draw(st.integers(0, FACE_VECTOR_DIMENSION - 1))
    if how == "non-finite":
        vector[index] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    else:
        vector[index] = draw(hostile.json_values)
    return vector


@st.composite
def mutated_face_events(draw) -> dict:
    """A valid face event with one field replaced by a hostile value, removed, or an extra one."""
    event = draw(valid_face_events())
    field = draw(st.sampled_from(FIELDS))
    how = draw(st.sampled_from(["json", "text", "instant", "drop", "extra", "vector"]))
    if how == "drop":
        event.pop(field)
    elif how == "extra":
        event[draw(st.text(max_size=10))] = draw(hostile.json_values)
    elif how == "text":
        event[field] = draw(hostile.hostile_text)
    elif how == "instant":
        moment = draw(hostile.instants) + timedelta(seconds=draw(st.integers(-60, 60)))
        event["captured_at"] = moment.isoformat()
    elif how == "vector":
        event["vector"] = draw(hostile_vectors())
    else:
        event[field] = draw(hostile.json_values)
    return event


def encoded(event: dict) -> bytes:
    # Python's JSON writes NaN and Infinity, as a careless producer would.
    return json.dumps(event, ensure_ascii=False).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    hostile.json_values.map(lambda value: json.dumps(value).encode()),
    hostile.nested,
    hostile.valid_events().map(hostile.encoded),  # a task event on the face queue
    valid_face_events().map(encoded),
    mutated_face_events().map(encoded),
)
