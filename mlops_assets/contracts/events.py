"""Event contracts: the JSON messages on the queues, versioned and validated on arrival.

Every event carries `event_id` (the idempotency key: consumers tolerate duplicates by it),
`event_type` and `schema_version`. A body that fails `parse_event` is never an error for the
pipeline: the consumer dead-letters it with the reason `InvalidEvent` carries.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from mlops_assets.constants import LABELS, PIXEL_COUNT, PIXEL_MAX
from mlops_assets.contracts.records import TaskRecord
from mlops_assets.contracts.stage_results import GateResult, Outcome

SCHEMA_VERSION = 1

# Logical queue names; the event queue resource may prefix them (tests use a unique prefix).
TASK_CONFIRMED_QUEUE = "task.confirmed"
TRAINING_COMPLETED_QUEUE = "training.completed"
MODEL_EVENTS_QUEUE = "model.events"
PIPELINE_FAILED_QUEUE = "pipeline.failed"

Pixel = Annotated[int, Field(ge=0, le=PIXEL_MAX)]


def new_event_id() -> str:
    """Returns a fresh random event id."""
    return str(uuid.uuid4())


def stable_event_id(*parts: str) -> str:
    """Returns an event id derived from `parts`, so a retried publisher repeats the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mlops-assets:" + "/".join(parts)))


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    schema_version: Literal[1] = SCHEMA_VERSION

    def to_json(self) -> bytes:
        """Serialises the event as the UTF-8 JSON body that goes on the queue."""
        return self.model_dump_json().encode()


class TaskConfirmedEvent(Event):
    """A person confirmed a task's label; the photo travels inline as grey levels."""

    event_type: Literal["TaskConfirmedEvent"] = "TaskConfirmedEvent"
    task_id: str = Field(min_length=1, max_length=64)
    confirmed_at: AwareDatetime
    label: Literal[LABELS]  # type: ignore[valid-type]
    pixels: list[Pixel] = Field(min_length=PIXEL_COUNT, max_length=PIXEL_COUNT)
    source: str = Field(min_length=1, max_length=64)

    @classmethod
    def from_record(cls, record: TaskRecord) -> "TaskConfirmedEvent":
        """Builds the event a Helper service would publish for a stored record."""
        return cls(
            event_id=record.event_id,
            task_id=record.task_id,
            confirmed_at=record.confirmed_at,
            label=record.label,
            pixels=list(record.pixels),
            source=record.source,
        )

    def to_record(self) -> TaskRecord:
        """Converts the event into the training data store's record."""
        return TaskRecord(
            event_id=self.event_id,
            task_id=self.task_id,
            confirmed_at=self.confirmed_at,
            label=self.label,
            pixels=bytes(self.pixels),
            source=self.source,
        )


class TrainingCompletedEvent(Event):
    """A retraining run ended, whatever its outcome."""

    event_type: Literal["TrainingCompletedEvent"] = "TrainingCompletedEvent"
    run_id: str
    job_name: str
    outcome: Outcome
    model_name: str
    challenger_version: str | None = None
    champion_version: str | None = Field(
        default=None, description="The version serving after the run."
    )
    previous_champion_version: str | None = None
    data_version: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    gates: list[GateResult] = Field(default_factory=list)
    error: str | None = None
    completed_at: AwareDatetime = Field(default_factory=utc_now)


class ModelPromoted(Event):
    """The `champion` alias moved to a new version."""

    event_type: Literal["ModelPromoted"] = "ModelPromoted"
    model_name: str
    version: str
    previous_version: str | None = None
    reason: str = ""
    run_id: str | None = None
    occurred_at: AwareDatetime = Field(default_factory=utc_now)


class ModelRolledBack(Event):
    """The `champion` alias moved back to the version it replaced."""

    event_type: Literal["ModelRolledBack"] = "ModelRolledBack"
    model_name: str
    version: str = Field(description="The version serving again.")
    previous_version: str | None = Field(default=None, description="The version rolled back.")
    reason: str = ""
    occurred_at: AwareDatetime = Field(default_factory=utc_now)


class PipelineFailed(Event):
    """A Dagster run failed for a reason other than a gate saying no."""

    event_type: Literal["PipelineFailed"] = "PipelineFailed"
    run_id: str
    job_name: str
    error: str
    failed_at: AwareDatetime = Field(default_factory=utc_now)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        TaskConfirmedEvent,
        TrainingCompletedEvent,
        ModelPromoted,
        ModelRolledBack,
        PipelineFailed,
    )
}


E = TypeVar("E", bound=Event)

# Defaults make events easy to build in code; on the wire these must be explicit.
WIRE_REQUIRED = frozenset({"event_id", "schema_version"})


class InvalidEvent(ValueError):
    """A message body that is not a valid event; `reason` says why, for the dead-letter queue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_event(body: bytes, expected: type[E]) -> E:
    """Validates a message body as one event type.

    Args:
        body: the raw message (UTF-8 JSON).
        expected: the event class this queue carries.

    Returns:
        The validated event.

    Raises:
        InvalidEvent: bad JSON, not an object, another event type, an unknown schema version
            or a field that fails validation; the message says which.
    """
    try:
        event = expected.model_validate_json(body)
    except ValidationError:
        raise _diagnose(body, expected) from None
    missing = WIRE_REQUIRED - event.model_fields_set
    if missing:
        raise InvalidEvent(f"invalid {expected.__name__}: missing {', '.join(sorted(missing))}")
    return event


def _diagnose(body: bytes, expected: type[Event]) -> InvalidEvent:
    # The slow path, taken only for bad messages: says which rule the body broke.
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return InvalidEvent(f"not JSON: {error}")
    if not isinstance(raw, dict):
        return InvalidEvent(f"not a JSON object: {type(raw).__name__}")
    event_type = raw.get("event_type", expected.__name__)
    if event_type != expected.__name__:
        return InvalidEvent(f"event_type {event_type!r} where {expected.__name__} was expected")
    if raw.get("schema_version") != SCHEMA_VERSION:
        return InvalidEvent(
            f"unknown schema_version {raw.get('schema_version')!r} of {expected.__name__} "
            f"(this consumer reads {SCHEMA_VERSION})"
        )
    try:
        expected.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_url=False)[:5]
        )
        return InvalidEvent(f"invalid {expected.__name__}: {problems}")
    return InvalidEvent(f"invalid {expected.__name__}: JSON that pydantic's parser rejects")
