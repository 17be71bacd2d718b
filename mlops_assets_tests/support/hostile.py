"""Hypothesis strategies of hostile task-event bodies, and the oracle that says what the drain of
any source must do with each: arbitrary bytes, arbitrary JSON, deeply nested JSON, and mutations
of a valid event (every field replaced, removed or joined by an extra one), with repeated event
ids. `support.hostile_faces` mutates face events the same way."""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from mlops_assets.contracts.events import Event, InvalidEvent, TaskConfirmedEvent, parse_event
from mlops_assets.contracts.records import ConfirmedWindow, TaskRecord

FIELDS = ("event_id", "schema_version", "event_type", "task_id", "confirmed_at", "label")
FIELDS += ("pixels", "source")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Text with the characters that broke stores before: NUL and other control characters.
hostile_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from("\x00\x01\n\t\x7f\x9f"),
    max_size=70,
)
instants = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC]),
)


def valid_events(ids: Sequence[str] = ("e-0", "e-1", "e-2")) -> st.SearchStrategy[dict]:
    """Valid `TaskConfirmedEvent` bodies as dicts, with event ids drawn from `ids` (so a list
    of them holds identical and conflicting duplicates)."""
    return st.fixed_dictionaries(
        {
            "event_id": st.sampled_from(list(ids)),
            "schema_version": st.just(1),
            "event_type": st.just("TaskConfirmedEvent"),
            "task_id": st.sampled_from(["t-1", "t-2"]),
            "confirmed_at": st.sampled_from(
                ["2025-03-01T12:00:00Z", "2025-03-01T14:00:00+02:00", "2025-07-31T23:59:59Z"]
            ),
            "label": st.integers(0, 9),
            "pixels": st.sampled_from([[0] * 64, [16] * 64, list(range(16)) * 4]),
            "source": st.just("helper"),
        }
    )


@st.composite
def mutated_events(draw) -> dict:
    """A valid event with one field replaced by a hostile value, removed, or an extra field."""
    event = draw(valid_events())
    field = draw(st.sampled_from(FIELDS))
    how = draw(st.sampled_from(["json", "text", "instant", "drop", "extra", "number"]))
    if how == "drop":
        event.pop(field)
    elif how == "extra":
        event[draw(st.text(max_size=10))] = draw(json_values)
    elif how == "text":
        event[field] = draw(hostile_text)
    elif how == "instant":
        moment = draw(instants) + timedelta(seconds=draw(st.integers(-60, 60)))
        event["confirmed_at"] = moment.isoformat()
    elif how == "number":
        number = draw(st.integers(-3, 20) | st.floats(-1, 20) | st.booleans() | st.text("0123"))
        if field == "pixels":
            index = draw(st.integers(0, 63))
            event["pixels"] = event["pixels"][:index] + [number] + event["pixels"][index + 1 :]
        else:
            event[field] = number
    else:
        event[field] = draw(json_values)
    return event


def encoded(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


nested = st.integers(min_value=1, max_value=100_000).map(lambda depth: b"[" * depth + b"]" * depth)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    nested,
    valid_events().map(encoded),
    mutated_events().map(encoded),
)


@dataclass
class Expected:
    """What the drain must do with a list of bodies, in order: `reasons` holds each dead
    body's reason as `parse_event` gives it, or "conflicting duplicate"."""

    stored: dict[str, object]
    dead: list[bytes]
    conflicts: int
    reasons: list[str] = field(default_factory=list)


CONFLICT = "conflicting duplicate"


def expected_outcome(
    published: Sequence[bytes], window: ConfirmedWindow, event: type[Event] = TaskConfirmedEvent
) -> Expected:
    """The oracle: invalid bodies and conflicting duplicates are dead-lettered, the first
    occurrence of each event id is stored, identical duplicates vanish."""
    expected = Expected({}, [], 0)
    for body in published:
        try:
            record = parse_event(body, event, window).to_record()
        except InvalidEvent as error:
            expected.dead.append(body)
            expected.reasons.append(error.reason)
            continue
        first = expected.stored.setdefault(record.event_id, record)
        if first != record:
            expected.dead.append(body)
            expected.reasons.append(CONFLICT)
            expected.conflicts += 1
    return expected


# Instants in reasons: "now" differs between the oracle and the drain.
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")


def reason_kind(reason: str) -> str:
    """A dead letter's reason without what may differ between two drains of the same body."""
    if reason.startswith(CONFLICT):
        return CONFLICT
    return INSTANT.sub("<instant>", reason)


@st.composite
def record_shaped_events(draw) -> tuple[dict, TaskRecord]:
    """A valid event with one record field given a hostile value of the right JSON type, and the
    store record with the same values (for comparing the contract's rules with the store's)."""
    event = draw(valid_events())
    field = draw(st.sampled_from(["event_id", "task_id", "source", "confirmed_at", "label"]))
    field = draw(st.sampled_from([field, "pixels"]))
    if field == "confirmed_at":
        event[field] = (draw(instants) + timedelta(seconds=draw(st.integers(-60, 60)))).isoformat()
    elif field == "label":
        event[field] = draw(st.integers(-3, 20))
    elif field == "pixels":
        event[field] = draw(st.lists(st.integers(0, 255), min_size=60, max_size=68))
    else:
        event[field] = draw(hostile_text)
    record = TaskRecord(
        event["event_id"],
        event["task_id"],
        datetime.fromisoformat(event["confirmed_at"]),
        event["label"],
        bytes(event["pixels"]),
        event["source"],
    )
    return event, record
