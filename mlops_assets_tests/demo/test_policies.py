"""The retraining policies: their decisions on constructed months, and a short replay of all
three on the same drifting stream."""

from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.demo import policies, replay, report
from mlops_assets.demo.policy_report import policies_markdown, policies_plot_png
from mlops_assets.demo.source import Scenario
from mlops_assets.graph.source_sensors import last_snapshot_high_water_mark
from mlops_assets.retraining.monitor_policy import MonitorPolicy
from mlops_assets_tests.support.monitoring import constructed_report
from mlops_assets_tests.support.photo_graph import PHOTO
from mlops_assets_tests.support.services import embedded_settings

HEALTH = MonitorPolicy(0.90, min_samples=100, cooldown=timedelta(days=7))
NOW = pd.Timestamp("2025-05-01", tz="UTC")


def test_each_policy_runs_embedded_in_this_process_whatever_the_environment(tmp_path, monkeypatch):
    """`make demo` on the stack with MLOPS_EXECUTOR=celery: the policies still start empty."""
    for name, value in {
        "MLOPS_EXECUTOR": "celery",
        "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
        "MLOPS_DATA_STORE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/mlops_data",
    }.items():
        monkeypatch.setenv(name, value)
    settings = policies.policy_settings(tmp_path / "volume")
    job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
    assert job.executor_def is dg.in_process_executor
    assert settings.resolved_tracking_uri == f"sqlite:///{tmp_path / 'volume' / 'mlflow.db'}"
    assert settings.resolved_rabbitmq_url is None
    assert str(tmp_path / "volume") in settings.resolved_data_store_url


def test_volume_policy_fires_every_n_labels():
    decide = policies.volume_policy(450, per_month=150)
    assert [decide(None, m, NOW) for m in range(6)] == [None, None, "volume"] * 2


def test_evidence_policy_fires_on_evidence_and_respects_the_cooldown():
    decide = policies.evidence_policy(HEALTH)
    assert decide(constructed_report(11, 12), 12, NOW) is None
    assert decide(constructed_report(15, 16), 16, NOW) == "drift"
    assert decide(constructed_report(15, 16), 16, NOW + pd.Timedelta(days=1)) is None
    degraded = constructed_report(11, 12, error_rate=0.2)
    assert decide(degraded, 17, NOW + pd.Timedelta(days=8)) == "performance"


def _run(name: str, accuracies: list[float | None], triggers: list[str | None], drifted=None):
    months = [
        policies.PolicyMonth(
            month=f"2025-{i + 1:02d}-01",
            serving_version="1",
            serving_accuracy=a,
            trigger=t,
            drifted=(drifted or {}).get(i, []),
        )
        for i, (a, t) in enumerate(zip(accuracies, triggers, strict=True))
    ]
    return policies.PolicyRun(name, months)


def test_policy_figures_table_and_plot():
    scenario = Scenario(
        start=pd.Timestamp("2025-01-01", tz="UTC"), drift_month=2, late_label_month=3
    )
    evidence = _run(
        "evidence",
        [None, 0.95, 0.85],
        ["initial", "drift", None],
        {1: ["input:mean_grey"], 2: ["prediction:label_shares"]},
    )
    assert (evidence.retrains, evidence.months_below_target) == (2, 1)
    assert evidence.mean_accuracy == pytest.approx(0.90)
    assert policies.detections(evidence, scenario) == {
        "input_drift_from": "2025-02",
        "input_drift_detected": "2025-02",
        "label_shift_from": "2025-03",
        "label_shift_detected": "2025-03",
    }
    monthly = _run("monthly", [None, 0.9, 0.88], ["initial", "monthly", "monthly"])
    table = policies_markdown([monthly, evidence], scenario)
    # policy | runs | promotions | deploys | months below target | mean | detections | triggers
    assert "| monthly | 3 | 0 | 1 | 1 | 89.0% | – | – |" in table
    assert (
        "| evidence | 2 | 0 | 1 | 1 | 90.0% | 2025-02 | 2025-03 | 2025-01 initial, 2025-02 drift |"
        in table
    )
    assert policies_plot_png([monthly, evidence], scenario).startswith(b"\x89PNG")
    [row] = report.policies_table([evidence], scenario)
    assert row["policy"] == "evidence" and row["label_shift_detected"] == "2025-03"


# Six months of 400 photos: the new camera from month 5, the label shift in month 6.
SHORT = Scenario(months=6, per_month=400, drift_month=5, late_label_month=6)
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def newest_champion_model(instance: dg.DagsterInstance) -> int:
    """The storage id of the newest champion_model materialization."""
    [record] = instance.fetch_materializations(PHOTO.champion_model, limit=1).records
    return record.storage_id


@pytest.mark.model
def test_three_policies_on_one_stream_and_the_evidence_policy_sees_both_shifts(tmp_path):
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = embedded_settings(tmp_path / "main", monkeypatch)
    registry, store = factory.registry(settings), factory.data_store(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        monthly = replay.run_replay(
            build_definitions(settings).resolve_job_def(PHOTO.retrain_job),
            instance,
            SHORT,
            deliver=store.insert,
            champion_version=lambda: c.version if (c := registry.champion()) else None,
            first_month=3,
            run_config=RUN_CONFIG,
        )
        latest_before = newest_champion_model(instance)
        baseline = last_snapshot_high_water_mark(instance, PHOTO.training_data)
        runs = policies.compare_policies(
            monthly, tmp_path / "policies", SHORT, 3, RUN_CONFIG, HEALTH
        )
        # One story per instance: the replay's instance holds the monthly runs only.
        assert not instance.get_runs(dg.RunsFilter(tags={"mlops_assets/policy": "evidence"}))
        assert len(instance.get_runs()) == len(monthly)
        assert newest_champion_model(instance) == latest_before
        # task_confirmed_events_sensor's baseline: the monthly replay's newest snapshot, still.
        assert last_snapshot_high_water_mark(instance, PHOTO.training_data) == baseline > 0
    with policies.policy_instance(tmp_path / "policies" / "evidence") as own:
        tagged = own.get_runs(dg.RunsFilter(tags={"mlops_assets/policy": "evidence"}))
    by_name = {run.name: run for run in runs}
    assert list(by_name) == ["monthly", "volume", "evidence", policies.OLD_RULE]
    assert by_name[policies.OLD_RULE].retrains == 4  # every month, like monthly, other rule
    assert by_name["monthly"].retrains == 4
    evidence = by_name["evidence"]
    assert policies.detections(evidence, SHORT) == {
        "input_drift_from": "2024-05",
        "input_drift_detected": "2024-05",
        "label_shift_from": "2024-06",
        "label_shift_detected": "2024-06",
    }
    fired = {m.month[:7]: m.trigger for m in evidence.months if m.trigger}
    assert fired["2024-03"] == "initial" and fired.get("2024-05") in {"drift", "performance"}
    assert "2024-04" not in fired  # a quiet month costs no run
    assert len(tagged) == evidence.retrains
    assert all(m.serving_accuracy is not None for m in evidence.months[1:])
