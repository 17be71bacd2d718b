"""Event contracts: round trips, and every kind of malformed message named with its reason."""

import json
from datetime import UTC, datetime

import pytest

from mlops_assets.contracts.events import (
    EVENT_TYPES,
    InvalidEvent,
    ModelPromoted,
    ModelRolledBack,
    PipelineFailed,
    TaskConfirmedEvent,
    TrainingCompletedEvent,
    parse_event,
    stable_event_id,
)
from mlops_assets.contracts.records import TaskRecord


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
