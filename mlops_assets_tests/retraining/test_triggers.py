"""Plain decisions behind the task-events sensor: when to retrain, whether a tick may consume."""

from mlops_assets.retraining.triggers import decide_retrain, is_preview, parse_cursor


def test_is_preview_tells_daemon_ticks_previews_and_direct_calls_apart():
    assert not is_preview(["__repository__", "task_events_sensor", "1234"], "__repository__")
    assert is_preview(["__repository__", "task_events_sensor", "20261125_120000"], "repo")
    assert is_preview(None, "__repository__")
    assert not is_preview(None, None)


def test_retrain_needs_enough_labels_beyond_the_baseline():
    short = decide_retrain(high_water_mark=109, baseline=10, new_labels=99, min_new_labels=100)
    assert not short.retrain
    assert "99 new confirmed labels beyond high-water mark 10" in short.skip_reason()
    enough = decide_retrain(high_water_mark=110, baseline=10, new_labels=100, min_new_labels=100)
    assert enough.retrain and enough.run_key == "task-events-hwm-110"


def test_cursor_is_a_high_water_mark_or_zero():
    assert parse_cursor("42") == 42
    assert parse_cursor(None) == parse_cursor("") == parse_cursor("garbage") == 0
