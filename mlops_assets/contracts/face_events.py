"""The face-vector contract: what the Auth service publishes when a helper's face is registered.

Strict like `TaskConfirmedEvent` (the same `Event` base, identifiers and arrival window): a
vector of another dimension, with a non-finite value, all zeros, or not L2-normalised is refused
by `parse_event` with the reason, and the consumer dead-letters it.
"""

import math
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from mlops_assets.contracts.events import WINDOW, Event, PlainText

FACE_REGISTERED_QUEUE = "face.registered"
# The Auth service's embedding size; every face vector has exactly this many components.
FACE_VECTOR_DIMENSION = 128
# How far a vector's L2 norm may lie from 1: float32 producers round to about 1e-7.
NORM_TOLERANCE = 1e-3


def vector_problem(vector: list[float]) -> str | None:
    """Why `vector` is not a face vector (finite, non-zero, unit L2 norm), or None.

    The dimension is the field's own rule; this names what a list of the right length can
    still get wrong.
    """
    if not all(math.isfinite(value) for value in vector):
        position = next(i for i, value in enumerate(vector) if not math.isfinite(value))
        return f"a non-finite value {vector[position]!r} at position {position}"
    norm = math.hypot(*vector)
    if norm == 0.0:
        return "a zero vector (no direction to compare)"
    if abs(norm - 1.0) > NORM_TOLERANCE:
        return f"not L2-normalised: its norm is {norm:.6g}, not 1 ± {NORM_TOLERANCE:g}"
    return None


def _of_the_dimension(value: object) -> object:
    # Before the items are validated, so a vector of another length is named as such once.
    if isinstance(value, list) and len(value) != FACE_VECTOR_DIMENSION:
        raise PydanticCustomError(
            "face_vector_dimension",
            "wrong dimension: {count} values where a face vector has {dimension}",
            {"count": len(value), "dimension": FACE_VECTOR_DIMENSION},
        )
    return value


def _face_vector(vector: list[float]) -> list[float]:
    problem = vector_problem(vector)
    if problem is not None:
        raise PydanticCustomError("face_vector", "{problem}", {"problem": problem})
    return vector


# A JSON number per component (never "0.1" or true); NaN and infinities are refused above with
# their position, since the JSON parser may read them.
FaceVector = Annotated[
    list[Annotated[float, Field(strict=True)]],
    Field(min_length=FACE_VECTOR_DIMENSION, max_length=FACE_VECTOR_DIMENSION),
    BeforeValidator(_of_the_dimension),
    AfterValidator(_face_vector),
]


class FaceVectorRegisteredEvent(Event):
    """A helper's face was captured and embedded; the vector travels inline."""

    event_type: Literal["FaceVectorRegisteredEvent"] = "FaceVectorRegisteredEvent"
    helper_id: PlainText = Field(description="The helper the face belongs to (the identity).")
    vector: FaceVector = Field(
        description=f"The face embedding: {FACE_VECTOR_DIMENSION} finite numbers, L2 norm 1."
    )
    captured_at: AwareDatetime = Field(
        description="When the face was captured, stored in UTC; on arrival it must lie inside "
        "the consumer's window, as a task's confirmed_at does."
    )
    camera: PlainText = Field(description="The capturing device (a camera change drifts vectors).")
    source: PlainText = Field(description="The publishing service.")

    @field_validator("captured_at")
    @classmethod
    def _plausible_utc(cls, value: datetime, info: ValidationInfo) -> datetime:
        window = (info.context or {}).get(WINDOW)
        problem = None if window is None else window.problem(value)
        if problem is not None:
            raise PydanticCustomError("implausible_time", "{problem}", {"problem": problem})
        return value.astimezone(UTC)
