"""champion_monitor's window: where it ends for live traffic and for historical data."""

from datetime import UTC, datetime, timedelta

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.graph.assets.monitoring import MonitorConfig

NEWEST = datetime(2025, 12, 30, 17, 0, tzinfo=UTC)


def test_a_historical_window_ends_at_the_newest_confirmed_task_and_holds_it():
    config = MonitorConfig(window_days=30, window_anchor="newest_confirmed_task")
    start, end = config.window(NEWEST)
    assert start <= NEWEST < end
    assert end - start == timedelta(days=30) and end - NEWEST <= timedelta(seconds=1)


def test_unset_fields_take_the_spec_and_set_ones_win():
    monitor = load_fleet().model("task_photos").monitor
    config = MonitorConfig(drift_alpha=0.05).resolved(monitor)
    assert (config.window_days, config.drift_alpha) == (monitor.window_days, 0.05)
    assert config.target_accuracy == monitor.target_value
    assert config.thresholds().prediction_distance == monitor.prediction_drift_threshold


def test_a_live_window_ends_now_whatever_the_newest_task():
    start, end = MonitorConfig(window_days=7).window(NEWEST)
    assert end > datetime.now(UTC) - timedelta(minutes=1) and end - start == timedelta(days=7)


def test_an_explicit_window_end_wins_over_the_anchor():
    config = MonitorConfig(window_anchor="newest_confirmed_task", window_end="2025-05-01")
    config = config.resolved(load_fleet().model("task_photos").monitor)
    assert config.window(NEWEST)[1] == datetime(2025, 5, 1, tzinfo=UTC)
