import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from mlops_assets.definitions import build_resources, defs
from mlops_assets.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_asset_names_and_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "training_data",
        "trained_model",
        "verification_report",
        "champion_model",
        "deployment",
        "replay_report",
        "champion_monitor",
    }
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert parents == {
        "training_data": set(),
        "trained_model": {"training_data"},
        "verification_report": {"training_data", "trained_model", "verification_report"},
        "champion_model": {"verification_report"},
        "deployment": {"champion_model"},
        "replay_report": {"champion_model"},
        # It reads @champion and the stores, not the retraining assets' values.
        "champion_monitor": set(),
    }


def test_check_names_and_blocking():
    graph = defs.resolve_asset_graph()
    checks = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).blocking
        for key in graph.asset_check_keys
    }
    assert checks == {
        ("training_data", "enough_rows"): True,
        ("training_data", "no_missing_pixels"): True,
        ("training_data", "labels_known"): True,
        ("training_data", "every_class_in_train"): True,
        # A gate saying no is a decision, not a broken run: champion_model enforces the gates.
        ("verification_report", "accuracy_gate"): False,
        ("verification_report", "latency_gate"): False,
        ("verification_report", "not_worse_than_champion_gate"): False,
        # Deployment must not push a version the registry's alias does not hold.
        ("champion_model", "champion_alias_agrees"): True,
        # The monitor warns; champion_health_sensor decides with its minimum sample.
        ("champion_monitor", "champion_accuracy_at_target"): False,
        ("champion_monitor", "champion_drift_within_threshold"): False,
    }


def test_jobs_schedules_sensors():
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")} == {
        "retrain_job",
        "monitor_job",
        "rollback_champion_job",
    }
    assert {s.name for s in repo.schedule_defs} == {
        "nightly_retrain_schedule",
        "champion_monitor_schedule",
    }
    assert {s.name for s in repo.sensor_defs} == {
        "task_events_sensor",
        "training_completed_sensor",
        "pipeline_failure_sensor",
        "champion_health_sensor",
        "champion_outbox_sensor",
    }


def test_dagster_definitions_validate(tmp_path):
    result = subprocess.run(
        [
            Path(sys.executable).parent / "dagster",
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        # A fresh checkout has no instance folder yet; validation needs one to exist.
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_champion_monitor_is_in_the_monitoring_group():
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("champion_monitor"))
    assert node.group_name == "monitoring"


def test_alert_secrets_are_env_vars_the_ui_shows_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_ALERT_SLACK_WEBHOOK_URL", "https://hooks.slack.test/T/B/tok3n-xyz")
    resources = build_resources(Settings(home=tmp_path))
    alerts = resources["alerts"]
    assert alerts.slack_webhook_url == dg.EnvVar("MLOPS_ALERT_SLACK_WEBHOOK_URL")
    assert "tok3n-xyz" not in repr(alerts)
    assert alerts.pagerduty_routing_key is None and alerts.webhook_url is None
