"""What pages a person: the alert rules and their dedup keys."""

from datetime import UTC, datetime, timedelta

from mlops_assets.retraining import alerts
from mlops_assets.retraining.monitor_policy import MonitorPolicy
from mlops_assets_tests.support.monitoring import constructed_report

POLICY = MonitorPolicy(0.90, min_samples=100, cooldown=timedelta(days=7))


def test_a_failed_run_alerts_only_after_its_last_retry():
    assert alerts.will_be_retried({}, default_max_retries=2)
    assert alerts.will_be_retried({"dagster/retry_number": "1"}, 2)
    assert not alerts.will_be_retried({"dagster/retry_number": "2"}, 2)
    assert not alerts.will_be_retried({}, 0)
    assert not alerts.will_be_retried({"dagster/max_retries": "0"}, 3)


def test_a_healthy_champion_pages_nobody():
    assert alerts.monitor_alerts(constructed_report(11, 12), POLICY) == []


def test_below_target_and_drift_page_once_a_day_per_champion():
    report = constructed_report(15, 16, error_rate=0.2)
    below, drift = alerts.monitor_alerts(report, POLICY)
    assert below.kind == "champion_below_target" and below.severity == "critical"
    assert below.key == "champion-below-target-v3-2025-05-01"
    assert drift.kind == "drift_detected" and drift.key == "drift-v3-2025-05-01"
    assert "input:mean_grey" in drift.summary and drift.details["input:mean_grey"] > 0.3


def test_too_few_samples_page_nobody():
    assert alerts.monitor_alerts(constructed_report(15, 16, 0.3, window_size=40), POLICY) == []


def test_each_rollback_has_its_own_key():
    at = datetime(2025, 5, 1, 12, tzinfo=UTC)
    first = alerts.rolled_back("m", "1", "2", "bad", at)
    later = alerts.rolled_back("m", "1", "2", "bad", at + timedelta(hours=1))
    assert first.key != later.key and first.kind == "rollback"


def test_alerts_carry_errors_redacted_item4():
    """Issue 26, item 4: a run failure's text reached Slack and PagerDuty with the password."""
    alert = alerts.run_failed("retrain_job", "0123456789", "db postgresql://u:pw9@db/x down", 0)
    assert "pw9" not in alert.summary and "pw9" not in alert.details["error"]
    assert "u:***@db" in alert.summary
