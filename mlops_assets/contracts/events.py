"""Event contracts: the JSON messages on the queues, versioned and validated on arrival.

Every event carries `event_id` (the idempotency key: consumers tolerate duplicates by it),
`event_type` and `schema_version`. A body that fails `parse_event` is never an error for the
pipeline: the consumer dead-letters it with the reason `InvalidEvent` carries.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError, from_json

from mlops_assets.constants import LABELS, PIXEL_COUNT, PIXEL_MAX
from mlops_assets.contracts.event_base import (
    SCHEMA_VERSION,
    WINDOW,
    ArrivalTime,
    Event,
    PlainText,
)
from mlops_assets.contracts.face_events import FaceVectorRegisteredEvent
from mlops_assets.contracts.records import ConfirmedWindow, TaskRecord
from mlops_assets.contracts.safe_text import PrintableText
from mlops_assets.contracts.stage_results import GateResult, Outcome

# Logical queue names; the event queue resource may prefix them (tests use a unique prefix).
TASK_CONFIRMED_QUEUE = "task.confirmed"
TRAINING_COMPLETED_QUEUE = "training.completed"
MODEL_EVENTS_QUEUE = "model.events"
PIPELINE_FAILED_QUEUE = "pipeline.failed"

# Strict: a grey level or label is a JSON integer, never "1", true or 7.0.
Pixel = Annotated[int, Field(strict=True, ge=0, le=PIXEL_MAX)]
Label = Annotated[int, Field(strict=True, ge=LABELS[0], le=LABELS[-1])]


def _printable_name(value: str) -> str:
    if not value.isprintable():
        char = next(c for c in value if not c.isprintable())
        raise PydanticCustomError(
            "plain_text", "non-printable character U+{code}", {"code": f"{ord(char):04X}"}
        )
    return value


# Registry names and versions: 1..256 printable characters (they reach logs as they are).
Name = Annotated[
    str, Field(strict=True, min_length=1, max_length=256), AfterValidator(_printable_name)
]

# The most bytes an event body may have. A valid TaskConfirmedEvent weighs about 400 bytes
# (64 grey levels inline); the bound leaves room for pretty-printed JSON and larger photos while
# a hostile body is refused before a byte of it is parsed.
EVENT_MAX_BYTES = 64 * 1024


def stable_event_id(*parts: str) -> str:
    """Returns an event id derived from `parts`, so a retried publisher repeats the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mlops-assets:" + "/".join(parts)))


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskConfirmedEvent(Event):
    """A person confirmed a task's label; the photo travels inline as grey levels."""

    event_type: Literal["TaskConfirmedEvent"] = "TaskConfirmedEvent"
    task_id: PlainText
    confirmed_at: ArrivalTime = Field(
        description="When the task was confirmed; on arrival it must lie inside the consumer's "
        "window (default: from the first partition to now plus five minutes)."
    )
    label: Label
    pixels: list[Pixel] = Field(min_length=PIXEL_COUNT, max_length=PIXEL_COUNT)
    source: PlainText

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
    model_name: Name
    version: Name
    previous_version: Name | None = None
    reason: PrintableText = ""
    run_id: str | None = None
    occurred_at: AwareDatetime = Field(default_factory=utc_now)


class ModelRolledBack(Event):
    """The `champion` alias moved back to the version it replaced."""

    event_type: Literal["ModelRolledBack"] = "ModelRolledBack"
    model_name: Name
    version: Name = Field(description="The version serving again.")
    previous_version: Name | None = Field(default=None, description="The version rolled back.")
    reason: PrintableText = ""
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
        FaceVectorRegisteredEvent,
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


REASON_MAX_CHARS = 500


def parse_event(body: bytes, expected: type[E], window: ConfirmedWindow | None = None) -> E:
    """Validates a message body as one event type, strictly.

    Never raises anything but `InvalidEvent` for any byte string: a reason for every body that
    is not a valid event, bounded in length, whatever the body holds (deep nesting, huge keys,
    bytes that are not UTF-8). A body over `EVENT_MAX_BYTES` is refused unparsed.

    Args:
        body: the raw message (UTF-8 JSON).
        expected: the event class this queue carries.
        window: the plausible `confirmed_at` instants of task events; default
            `ConfirmedWindow()` (the first partition to now plus five minutes).

    Returns:
        The validated event.

    Raises:
        InvalidEvent: bad JSON, not an object, another event type, an unknown schema version
            or a field that fails validation; the message says which.
    """
    if len(body) > EVENT_MAX_BYTES:
        raise InvalidEvent(
            f"body of {len(body):,} bytes is over the {EVENT_MAX_BYTES:,}-byte bound of an "
            "event; not parsed"
        )
    context = {WINDOW: window or ConfirmedWindow()}
    try:
        event = expected.model_validate_json(body, strict=True, context=context)
    except ValidationError as error:
        raise _diagnose(body, expected, error) from None
    missing = WIRE_REQUIRED - event.model_fields_set
    if missing:
        raise InvalidEvent(f"invalid {expected.__name__}: missing {', '.join(sorted(missing))}")
    return event


def _diagnose(body: bytes, expected: type[Event], error: ValidationError) -> InvalidEvent:
    # The slow path, taken only for bad messages: says which rule the body broke. pydantic's
    # own JSON parser bounds nesting depth, so a hostile body cannot exhaust the stack here.
    errors = error.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return _invalid(f"not JSON: {errors[0]['msg']}")
    try:
        raw = from_json(body)
    except ValueError as parse_error:
        return _invalid(f"not JSON: {parse_error}")
    if not isinstance(raw, dict):
        return _invalid(f"not a JSON object: {type(raw).__name__}")
    event_type = raw.get("event_type", expected.__name__)
    if event_type != expected.__name__:
        return _invalid(
            f"event_type {_short(repr(event_type))} where {expected.__name__} was expected"
        )
    if raw.get("schema_version") != SCHEMA_VERSION or type(raw["schema_version"]) is not int:
        return _invalid(
            f"unknown schema_version {_short(repr(raw.get('schema_version')))} of "
            f"{expected.__name__} (this consumer reads {SCHEMA_VERSION})"
        )
    problems = "; ".join(
        f"{'.'.join(_short(str(part), 40) for part in e['loc']) or 'body'}: {e['msg']}"
        for e in errors[:5]
    )
    return _invalid(f"invalid {expected.__name__}: {problems}")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _invalid(reason: str) -> InvalidEvent:
    if len(reason) > REASON_MAX_CHARS:
        reason = reason[: REASON_MAX_CHARS - 3] + "..."
    return InvalidEvent(reason)
