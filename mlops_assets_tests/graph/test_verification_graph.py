"""The face verifier's graph end to end on the embedded defaults: synthetic face vectors in the
SQLite store, the built-in face_projection trainer, MLflow on a SQLite file."""

from pathlib import Path

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import FaceVerificationReport
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.run_log import run_facts
from mlops_assets.retraining import gates
from mlops_assets.retraining.outcomes import completion_event
from mlops_assets_tests.support.services import embedded_settings

pytestmark = pytest.mark.model

FLEET = Path(__file__).parents[2] / "examples" / "fleet" / "face_verifier.yaml"
MODEL = "face_verifier"
NAMES = ModelNames(MODEL)
SPEC = next(m for m in load_fleet(FLEET).models if m.name == MODEL)
GATE_NAMES = {gate.name for gate in SPEC.gates}
# The demo's synthetic months (40 new identities a month, 10 vectors each).
SCENARIO = FaceScenario()
FIRST, SECOND = "2024-02-01", "2024-03-01"
FAST = {"verification_report": {"config": {"latency_samples": 20}}}


@pytest.fixture
def face_settings(tmp_path, monkeypatch):
    settings = embedded_settings(tmp_path / "var", monkeypatch)
    return settings.model_copy(update={"models_file": FLEET})


@pytest.fixture
def face_definitions(face_settings):
    return build_definitions(face_settings)


@pytest.fixture
def face_store(face_settings):
    from mlops_assets.backends import factory

    store = factory.data_store(face_settings)
    for month in (1, 2, 3):
        store.insert([e.to_record() for e in month_face_events(SCENARIO, month)], FACE_RECORDS)
    yield store
    store.close()


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def retrain(definitions, instance, month: str):
    job = definitions.resolve_job_def(NAMES.retrain_job)
    return job.execute_in_process(
        run_config={
            "ops": {NAMES.verification_report.to_python_identifier(): FAST["verification_report"]}
        },
        instance=instance,
        partition_key=month,
        raise_on_error=False,
    )


def report_of(result) -> FaceVerificationReport:
    return result.output_for_node(NAMES.verification_report.to_python_identifier())


def check_results(result) -> dict[str, bool]:
    return {
        e.check_name: e.passed
        for e in (
            event.event_specific_data
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    }


def test_one_month_materializes_the_face_verifier_graph_with_gate_named_checks(
    face_definitions, face_settings, face_store, instance
):
    result = retrain(face_definitions, instance, FIRST)
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == set(NAMES.retraining_keys)

    report = report_of(result)
    assert {g.name for g in report.gates} == GATE_NAMES
    assert report.champion is None and report.decision == "promoted"
    assert report.challenger.genuine_pairs > 0 and report.challenger.impostor_pairs > 0
    assert report.challenger.tar_at_far >= 0.90  # the synthetic identities separate well

    checks = check_results(result)
    # The spec's gates are checks under their own names, beside the data and alias checks.
    assert GATE_NAMES <= set(checks)
    assert {"enough_identities", "identities_disjoint", "vectors_valid"} <= set(checks)
    assert checks["champion_alias_agrees"] is True

    registry = MlflowClient(face_settings.resolved_tracking_uri)
    champion = registry.get_model_version_by_alias(SPEC.registry_name, "champion")
    assert str(champion.version) == report.challenger.version
    run = registry.get_run(champion.run_id)
    assert {f"gate.{name}" for name in GATE_NAMES} <= set(run.data.tags)

    # The completion event quotes the gates by the same names.
    event = completion_event(
        run_facts(instance, result.run_id), result.run_id, NAMES.retrain_job, SPEC.registry_name
    )
    assert event.outcome == "promoted"
    assert {g.name for g in event.gates} == GATE_NAMES
    assert event.metrics["challenger_tar_at_far"] == pytest.approx(report.challenger.tar_at_far)


def test_a_second_month_defends_or_promotes_by_the_gates_and_the_monitor_reports(
    face_definitions, face_settings, face_store, instance
):
    first = report_of(retrain(face_definitions, instance, FIRST))
    result = retrain(face_definitions, instance, SECOND)
    assert result.success
    second = report_of(result)
    assert second.champion is not None and second.champion.version == first.challenger.version
    # Champion and challenger are judged on the same holdout pairs.
    assert second.champion.genuine_pairs == second.challenger.genuine_pairs
    assert second.decision == gates.decide(second.gates)

    registry = MlflowClient(face_settings.resolved_tracking_uri)
    holder = str(registry.get_model_version_by_alias(SPEC.registry_name, "champion").version)
    expected = (
        second.challenger.version if second.decision == "promoted" else first.challenger.version
    )
    assert holder == expected

    monitor = face_definitions.resolve_job_def(NAMES.monitor_job).execute_in_process(
        run_config={
            "ops": {
                NAMES.champion_monitor.to_python_identifier(): {
                    "config": {"window_end": "2024-04-01T00:00:00+00:00", "window_days": 31}
                }
            }
        },
        instance=instance,
        raise_on_error=False,
    )
    assert monitor.success
    report = monitor.output_for_node(NAMES.champion_monitor.to_python_identifier())
    assert report.champion_version == holder
    assert report.genuine.n > 0 and report.tar is not None
    assert {"champion_tar_at_target", "champion_scores_stable"} <= set(check_results(monitor))
