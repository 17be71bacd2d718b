"""What every event shares: the base class, the identifier rule and the arrival-window key.

In a module of its own so each event contract (`contracts.events`, `contracts.face_events`)
builds on it without importing the others, and `contracts.events` can list them all.
"""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from mlops_assets.contracts.records import TEXT_MAX_LENGTH, text_problem

SCHEMA_VERSION = 1
# The validation context key that carries the `ConfirmedWindow` (parse_event's `window`).
WINDOW = "confirmed_window"


def _plain(value: str) -> str:
    if value.isprintable():  # the common case; text_problem says why otherwise
        return value
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("plain_text", "{problem}", {"problem": problem})
    return value


# Identifiers and names: 1..64 characters, no control characters (PostgreSQL refuses NUL).
PlainText = Annotated[
    str, Field(strict=True, min_length=1, max_length=TEXT_MAX_LENGTH), AfterValidator(_plain)
]


def _in_window(value: datetime, info: ValidationInfo) -> datetime:
    # Checked on arrival (parse_event always passes a window), not when a producer builds an
    # event in code: the window is the consumer's configuration.
    window = (info.context or {}).get(WINDOW)
    problem = None if window is None else window.problem(value)
    if problem is not None:
        raise PydanticCustomError("implausible_time", "{problem}", {"problem": problem})
    return value


# When something happened at the producer: with a timezone, and on arrival inside the
# consumer's `ConfirmedWindow` (from the first partition to now plus the clock skew).
ArrivalTime = Annotated[AwareDatetime, AfterValidator(_in_window)]


def new_event_id() -> str:
    """Returns a fresh random event id."""
    return str(uuid.uuid4())


class Event(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: PlainText = Field(default_factory=new_event_id)
    schema_version: Literal[1] = SCHEMA_VERSION

    def to_json(self) -> bytes:
        """Serialises the event as the UTF-8 JSON body that goes on the queue."""
        return self.model_dump_json().encode()
