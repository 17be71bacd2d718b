"""The face-vector contract: what the Auth service publishes when a helper's face is registered,
and the record the training data store keeps of it (table `face_vectors`).

Strict like `TaskConfirmedEvent` (the same `Event` base, identifiers and arrival window): a
vector of another dimension, with a non-finite value, all zeros, or not L2-normalised is refused
by `parse_event` with the reason, and the consumer dead-letters it. The store refuses the same
(`face_record_problems`), so a row that slipped past one is refused by the other.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from mlops_assets.contracts.event_base import ArrivalTime, Event, PlainText
from mlops_assets.contracts.records import ConfirmedWindow, text_problem

FACE_REGISTERED_QUEUE = "face.registered"
# The Auth service's embedding size; every face vector has exactly this many components.
FACE_VECTOR_DIMENSION = 128
# How far a vector's L2 norm may lie from 1: float32 producers round to about 1e-7.
NORM_TOLERANCE = 1e-3
# A stored vector: its components as little-endian float64, exactly the values the event held.
VECTOR_DTYPE = np.dtype("<f8")
VECTOR_BYTES = FACE_VECTOR_DIMENSION * VECTOR_DTYPE.itemsize


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


@dataclass(frozen=True)
class FaceRecord:
    """One registered face vector as the store keeps it.

    `vector` holds the `FACE_VECTOR_DIMENSION` components as little-endian float64 bytes
    (`VECTOR_DTYPE`), so a stored record compares equal to the event it came from.
    """

    event_id: str
    helper_id: str
    captured_at: datetime
    vector: bytes
    camera: str
    source: str

    def summary(self) -> str:
        """The record in a few words (dead-letter reasons name the record holding an id)."""
        return (
            f"helper {self.helper_id!r}, captured_at {self.captured_at.isoformat()}, "
            f"camera {self.camera!r}, source {self.source!r}"
        )


def vector_bytes(vector: list[float]) -> bytes:
    """A vector's components as the store keeps them (`VECTOR_DTYPE`)."""
    return np.asarray(vector, dtype=VECTOR_DTYPE).tobytes()


def vector_values(data: bytes) -> list[float]:
    """The components of a stored vector."""
    return np.frombuffer(data, VECTOR_DTYPE).tolist()


def face_record_problems(record: FaceRecord, window: ConfirmedWindow) -> list[str]:
    """Every rule `record` breaks (empty when it may be stored)."""
    problems = [
        f"{name}: {problem}"
        for name in ("event_id", "helper_id", "camera", "source")
        if (problem := text_problem(getattr(record, name))) is not None
    ]
    if (problem := window.problem(record.captured_at)) is not None:
        problems.append(f"captured_at: {problem}")
    if len(record.vector) != VECTOR_BYTES:
        problems.append(
            f"vector: {len(record.vector)} bytes where a face vector has {VECTOR_BYTES} "
            f"({FACE_VECTOR_DIMENSION} float64 values)"
        )
    elif (problem := vector_problem(vector_values(record.vector))) is not None:
        problems.append(f"vector: {problem}")
    return problems


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class FaceVectorRegisteredEvent(Event):
    """A helper's face was captured and embedded; the vector travels inline."""

    event_type: Literal["FaceVectorRegisteredEvent"] = "FaceVectorRegisteredEvent"
    helper_id: PlainText = Field(description="The helper the face belongs to (the identity).")
    vector: FaceVector = Field(
        description=f"The face embedding: {FACE_VECTOR_DIMENSION} finite numbers, L2 norm 1."
    )
    captured_at: Annotated[ArrivalTime, AfterValidator(_in_utc)] = Field(
        description="When the face was captured, stored in UTC; on arrival it must lie inside "
        "the consumer's window, as a task's confirmed_at does."
    )
    camera: PlainText = Field(description="The capturing device (a camera change drifts vectors).")
    source: PlainText = Field(description="The publishing service.")

    @classmethod
    def from_record(cls, record: FaceRecord) -> "FaceVectorRegisteredEvent":
        """Builds the event the Auth service would publish for a stored record."""
        return cls(
            event_id=record.event_id,
            helper_id=record.helper_id,
            vector=vector_values(record.vector),
            captured_at=record.captured_at,
            camera=record.camera,
            source=record.source,
        )

    def to_record(self) -> FaceRecord:
        """Converts the event into the training data store's record."""
        return FaceRecord(
            event_id=self.event_id,
            helper_id=self.helper_id,
            captured_at=self.captured_at,
            vector=vector_bytes(self.vector),
            camera=self.camera,
            source=self.source,
        )
