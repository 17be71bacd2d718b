import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from mlops_assets.definitions import build_resources, defs
from mlops_assets.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
STAGES = (
    "training_data",
    "trained_model",
    "verification_report",
    "champion_model",
    "deployment",
    "champion_monitor",
)
TASK_PHOTOS_LINEAGE = {
    "task_photos/training_data": set(),
    "task_photos/trained_model": {"task_photos/training_data"},
    "task_photos/verification_report": {
        "task_photos/training_data",
        "task_photos/trained_model",
        "task_photos/verification_report",
    },
    "task_photos/champion_model": {"task_photos/verification_report"},
    "task_photos/deployment": {"task_photos/champion_model"},
    # It reads @champion and the stores, not the retraining assets' values.
    "task_photos/champion_monitor": set(),
}


def test_asset_names_and_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "task_photos/training_data",
        "task_photos/trained_model",
        "task_photos/verification_report",
        "task_photos/champion_model",
        "task_photos/deployment",
        "task_photos/champion_monitor",
        "replay_report",
        *(f"face_verifier/{stage}" for stage in STAGES),
        # The downstream model has no champion_monitor.
        *(f"confirmation_risk/{stage}" for stage in STAGES[:-1]),
    }
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert parents == {
        **TASK_PHOTOS_LINEAGE,
        "replay_report": {"task_photos/champion_model"},
        # The face verifier's graph has the same shape.
        **{
            key.replace("task_photos/", "face_verifier/"): {
                p.replace("task_photos/", "face_verifier/") for p in keys
            }
            for key, keys in TASK_PHOTOS_LINEAGE.items()
        },
        # The downstream model: its training_data reads the upstream champions (cross-group
        # edges), the rest has the same shape.
        **{
            key.replace("task_photos/", "confirmation_risk/"): {
                p.replace("task_photos/", "confirmation_risk/") for p in keys
            }
            for key, keys in TASK_PHOTOS_LINEAGE.items()
            if not key.endswith("champion_monitor")
        },
        "confirmation_risk/training_data": {
            "task_photos/champion_model",
            "face_verifier/champion_model",
        },
    }


def test_check_names_and_blocking():
    graph = defs.resolve_asset_graph()
    checks = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).blocking
        for key in graph.asset_check_keys
    }
    assert checks == {
        ("task_photos/training_data", "enough_rows"): True,
        ("task_photos/training_data", "no_missing_pixels"): True,
        ("task_photos/training_data", "labels_known"): True,
        ("task_photos/training_data", "every_class_in_train"): True,
        # One check per spec gate, named by the gate. A gate saying no is a decision, not a
        # broken run: champion_model enforces the gates.
        ("task_photos/verification_report", "accuracy_above_minimum"): False,
        ("task_photos/verification_report", "p95_latency_below_maximum"): False,
        ("task_photos/verification_report", "not_worse_than_champion"): False,
        # Deployment must not push a version the registry's alias does not hold.
        ("task_photos/champion_model", "champion_alias_agrees"): True,
        # The monitor warns; the monitor sensor decides with its minimum sample.
        ("task_photos/champion_monitor", "champion_accuracy_at_target"): False,
        ("task_photos/champion_monitor", "champion_drift_within_threshold"): False,
        # The face verifier: identity data checks block, its spec's gates by their names.
        ("face_verifier/training_data", "enough_identities"): True,
        ("face_verifier/training_data", "identities_disjoint"): True,
        ("face_verifier/training_data", "vectors_valid"): True,
        ("face_verifier/verification_report", "tar_at_far_above_minimum"): False,
        ("face_verifier/verification_report", "eer_not_worse_than_champion"): False,
        ("face_verifier/verification_report", "verify_latency_below_maximum"): False,
        ("face_verifier/champion_model", "champion_alias_agrees"): True,
        ("face_verifier/champion_monitor", "champion_tar_at_target"): False,
        ("face_verifier/champion_monitor", "champion_scores_stable"): False,
        # The confirmation-risk model: feature data checks block, its spec's gates by name.
        ("confirmation_risk/training_data", "enough_feature_rows"): True,
        ("confirmation_risk/training_data", "both_outcomes_in_train"): True,
        ("confirmation_risk/training_data", "features_finite"): True,
        ("confirmation_risk/training_data", "upstream_champions_recorded"): True,
        ("confirmation_risk/verification_report", "risk_accuracy_above_minimum"): False,
        ("confirmation_risk/verification_report", "risk_latency_below_maximum"): False,
        ("confirmation_risk/verification_report", "risk_not_worse_than_champion"): False,
        ("confirmation_risk/champion_model", "champion_alias_agrees"): True,
    }


def test_jobs_schedules_sensors():
    repo = defs.get_repository_def()
    assert {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")} == {
        "task_photos_retrain_job",
        "task_photos_monitor_job",
        "task_photos_rollback_job",
        "face_verifier_retrain_job",
        "face_verifier_monitor_job",
        "face_verifier_rollback_job",
        # No monitor job: the confirmation-risk graph has no champion_monitor.
        "confirmation_risk_retrain_job",
        "confirmation_risk_rollback_job",
    }
    assert {s.name for s in repo.schedule_defs} == {
        "task_photos_monitor_schedule",
        "face_verifier_monitor_schedule",
    }
    assert {s.name for s in repo.sensor_defs} == {
        # One replication sensor per source queue.
        "task_confirmed_events_sensor",
        "face_registered_events_sensor",
        "face_verifier_champion_outbox_sensor",
        # No source queue (no replication sensor), no monitor sensor; its outbox sensor.
        "confirmation_risk_champion_outbox_sensor",
        "training_completed_sensor",
        "pipeline_failure_sensor",
        "task_photos_champion_monitor_sensor",
        "task_photos_champion_outbox_sensor",
        # The cadence (and upstream champions) of each model group.
        "task_photos_automation_sensor",
        "face_verifier_automation_sensor",
        "confirmation_risk_automation_sensor",
    }


def condition_labels(condition: dg.AutomationCondition) -> set[str]:
    labels, stack = set(), [condition]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        labels.add(node.get_label() or node.name)
    return labels


def test_the_cadence_is_the_spec_cadence_and_the_monitor_its_cron():
    repo = defs.get_repository_def()
    assert repo.get_schedule_def("task_photos_monitor_schedule").cron_schedule == "0 * * * *"
    for model, cadence in (
        ("task_photos", "0 2 * * *"),
        ("face_verifier", "0 3 * * 1"),
        ("confirmation_risk", "0 4 1 */3 *"),
    ):
        condition = repo.asset_graph.get(dg.AssetKey([model, "training_data"])).automation_condition
        assert f"on_cron({cadence}, UTC)" in condition_labels(condition)
        sensor = repo.get_sensor_def(f"{model}_automation_sensor")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.asset_selection == dg.AssetSelection.groups(model)


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


def test_one_group_per_model():
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"task_photos", "face_verifier", "confirmation_risk"}


def test_alert_secrets_are_env_vars_the_ui_shows_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_ALERT_SLACK_WEBHOOK_URL", "https://hooks.slack.test/T/B/tok3n-xyz")
    resources = build_resources(Settings(home=tmp_path))
    alerts = resources["alerts"]
    assert alerts.slack_webhook_url == dg.EnvVar("MLOPS_ALERT_SLACK_WEBHOOK_URL")
    assert "tok3n-xyz" not in repr(alerts)
    assert alerts.pagerduty_routing_key is None and alerts.webhook_url is None
