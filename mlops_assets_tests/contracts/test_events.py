"""Event contracts: round trips, and every kind of malformed message named with its reason."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

from mlops_assets.contracts.events import (
    EVENT_TYPES,
    REASON_MAX_CHARS,
    InvalidEvent,
    ModelPromoted,
    ModelRolledBack,
    PipelineFailed,
    TaskConfirmedEvent,
    TrainingCompletedEvent,
    parse_event,
    stable_event_id,
)
from mlops_assets.contracts.records import ConfirmedWindow, TaskRecord, record_problems
from mlops_assets_tests.support import hostile


def task_event(**overrides) -> dict:
    event = {
        "event_id": "e-1",
        "schema_version": 1,
        "event_type": "TaskConfirmedEvent",
        "task_id": "t-1",
        "confirmed_at": "2025-03-01T12:00:00Z",
        "label": 7,
        "pixels": [3] * 64,
        "source": "helper",
    }
    event.update(overrides)
    return event


def body(event: dict) -> bytes:
    return json.dumps(event).encode()


def test_task_event_round_trip_to_record():
    record = TaskRecord("e-1", "t-1", datetime(2025, 3, 1, tzinfo=UTC), 7, bytes([3] * 64), "x")
    event = TaskConfirmedEvent.from_record(record)
    parsed = parse_event(event.to_json(), TaskConfirmedEvent)
    assert parsed == event
    assert parsed.to_record() == record


def test_every_event_type_round_trips():
    events = [
        TrainingCompletedEvent(
            run_id="r", job_name="retrain_job", outcome="rejected", model_name="m"
        ),
        ModelPromoted(model_name="m", version="2", previous_version="1"),
        ModelRolledBack(model_name="m", version="1", previous_version="2", reason="bad"),
        PipelineFailed(run_id="r", job_name="retrain_job", error="boom"),
    ]
    for event in events:
        assert parse_event(event.to_json(), type(event)) == event
        assert EVENT_TYPES[type(event).__name__] is type(event)
        assert json.loads(event.to_json())["schema_version"] == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (body(task_event(schema_version=2)), "unknown schema_version 2"),
        (body({k: v for k, v in task_event().items() if k != "schema_version"}), "schema_version"),
        (body({k: v for k, v in task_event().items() if k != "event_id"}), "missing event_id"),
        (body({k: v for k, v in task_event().items() if k != "label"}), "label: Field required"),
        (body(task_event(pixels=[1] * 63)), "pixels: List should have at least 64 items"),
        (body(task_event(pixels=[1] * 63 + [17])), "less than or equal to 16"),
        (body(task_event(label=10)), "label: Input should be less than or equal to 9"),
        (body(task_event(confirmed_at="2025-03-01T12:00:00")), "timezone"),
        (body(task_event(event_type="ModelPromoted")), "event_type 'ModelPromoted'"),
        (body(task_event(extra="field")), "Extra inputs are not permitted"),
    ],
)
def test_malformed_messages_are_named_with_their_reason(raw, reason):
    with pytest.raises(InvalidEvent) as error:
        parse_event(raw, TaskConfirmedEvent)
    assert reason in error.value.reason


def test_stable_event_ids_repeat_for_the_same_run():
    assert stable_event_id("completed", "run-1") == stable_event_id("completed", "run-1")
    assert stable_event_id("completed", "run-1") != stable_event_id("completed", "run-2")


# Property-based: whatever the bytes, parse_event answers an event or a bounded reason, and an
# event it accepts is one the store accepts.
@settings(max_examples=1500, deadline=None)
@given(hostile.bodies)
def test_parse_event_never_raises_anything_but_invalid_event(raw):
    try:
        event = parse_event(raw, TaskConfirmedEvent)
    except InvalidEvent as error:
        assert 0 < len(error.reason) <= REASON_MAX_CHARS
        return
    assert record_problems(event.to_record(), ConfirmedWindow()) == []


@settings(max_examples=1500, deadline=None)
@given(hostile.record_shaped_events())
def test_contract_and_store_refuse_the_same_records(case):
    """The contract accepts a body exactly when the store accepts the record it describes."""
    event, record = case
    try:
        parse_event(hostile.encoded(event), TaskConfirmedEvent)
        accepted = True
    except InvalidEvent:
        accepted = False
    assert accepted == (record_problems(record, ConfirmedWindow()) == [])


def test_deeply_nested_json_is_not_json_with_a_reason():
    # Under the size bound (EVENT_MAX_BYTES), far past the parser's depth bound.
    with pytest.raises(InvalidEvent) as error:
        parse_event(b"[" * 5_000 + b"]" * 5_000, TaskConfirmedEvent)
    assert "not JSON" in error.value.reason and "recursion limit" in error.value.reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"pixels": ["1"] * 64}, "pixels.0: Input should be a valid integer"),
        ({"pixels": [True] * 64}, "pixels.0: Input should be a valid integer"),
        ({"pixels": [1.0] * 64}, "pixels.0: Input should be a valid integer"),
        ({"label": 7.0}, "label: Input should be a valid integer"),
        ({"label": "7"}, "label: Input should be a valid integer"),
        ({"label": True}, "label: Input should be a valid integer"),
        ({"confirmed_at": 1735689600}, "confirmed_at"),
        ({"task_id": "t\x00-1"}, "task_id: control character U+0000 at position 1"),
        ({"source": "hel\nper"}, "source: control character U+000A"),
        ({"event_id": "e\x1b1"}, "event_id: control character U+001B"),
        ({"confirmed_at": "9999-12-31T23:59:59+00:00"}, "is in the future"),
        ({"confirmed_at": "2100-01-01T00:00:00+00:00"}, "MLOPS_EVENTS_MAX_CLOCK_SKEW_S"),
        ({"confirmed_at": "1999-12-31T00:00:00+00:00"}, "MLOPS_EVENTS_EARLIEST_CONFIRMED_AT"),
    ],
)
def test_implausible_values_are_refused_not_coerced(overrides, reason):
    with pytest.raises(InvalidEvent) as error:
        parse_event(body(task_event(**overrides)), TaskConfirmedEvent)
    assert reason in error.value.reason


def test_the_window_is_the_callers():
    late = task_event(confirmed_at="2019-06-01T00:00:00Z")
    with pytest.raises(InvalidEvent):
        parse_event(body(late), TaskConfirmedEvent)
    window = ConfirmedWindow(earliest=datetime(2019, 1, 1, tzinfo=UTC))
    assert parse_event(body(late), TaskConfirmedEvent, window).confirmed_at.year == 2019
    soon = (datetime.now(UTC) + timedelta(seconds=100)).isoformat()
    assert parse_event(body(task_event(confirmed_at=soon)), TaskConfirmedEvent)
    skewless = ConfirmedWindow(max_skew=timedelta(0))
    with pytest.raises(InvalidEvent, match="in the future"):
        parse_event(body(task_event(confirmed_at=soon)), TaskConfirmedEvent, skewless)
