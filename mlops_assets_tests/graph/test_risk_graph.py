"""The confirmation-risk model's graph end to end on the embedded defaults: the upstream
champions made first (the photo classifier and the face verifier), then the downstream chain,
which reads them and records the versions it used."""

import dagster as dg
import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import VerificationReport
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings

pytestmark = pytest.mark.model

RISK = ModelNames("confirmation_risk")
PHOTOS, FACES = ModelNames("task_photos"), ModelNames("face_verifier")
SPEC = load_fleet().model("confirmation_risk")
MONTH = "2024-12-01"
FACE_MONTH = "2024-03-01"
FAST = {"config": {"latency_samples": 20}}


@pytest.fixture
def store(seeded_store):
    for month in (1, 2, 3):
        seeded_store.insert(
            [e.to_record() for e in month_face_events(FaceScenario(), month)], FACE_RECORDS
        )
    return seeded_store


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def retrain(definitions, instance, names: ModelNames, month: str, ops: dict | None = None):
    config = {names.verification_report.to_python_identifier(): FAST, **(ops or {})}
    return definitions.resolve_job_def(names.retrain_job).execute_in_process(
        run_config={"ops": config},
        instance=instance,
        partition_key=month,
        raise_on_error=False,
    )


def metadata_of(result) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def test_without_upstream_champions_the_training_data_fails_clearly(definitions, store, instance):
    result = retrain(definitions, instance, RISK, MONTH)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    error = failure.event_specific_data.error.message
    assert "confirmation_risk reads its features from the champions of task_photos, " in error
    assert "face_verifier, which have none yet" in error
    assert (
        failure.event_specific_data.user_failure_data.metadata["upstream_task_photos_version"].value
        == "none"
    )


def test_the_downstream_chain_reads_and_records_the_upstream_champions(
    definitions, settings, store, instance
):
    photos = retrain(
        definitions,
        instance,
        PHOTOS,
        MONTH,
        {PHOTOS.trained_model.to_python_identifier(): {"config": {"epochs": 10}}},
    )
    faces = retrain(definitions, instance, FACES, FACE_MONTH)
    assert photos.success and faces.success
    assert metadata_of(photos)["task_photos/champion_model"]["champion_version"] == "1"
    assert metadata_of(faces)["face_verifier/champion_model"]["champion_version"] == "1"

    result = retrain(definitions, instance, RISK, MONTH)
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(
        RISK.retraining_keys
    )
    meta = metadata_of(result)
    data = meta["confirmation_risk/training_data"]
    assert data["upstream_task_photos_version"] == "1"
    assert data["upstream_face_verifier_version"] == "1"
    assert data["holdout_rows"] == 150 and data["train_rows"] == 11 * 150
    assert 0 < data["holdout_risky"] < data["holdout_rows"]
    assert "synthetic" in data["labels"]
    assert meta["confirmation_risk/trained_model"]["upstream_task_photos_version"] == "1"

    report: VerificationReport = result.output_for_node(
        RISK.verification_report.to_python_identifier()
    )
    assert report.decision == "promoted" and report.champion is None
    assert report.challenger.accuracy > 0.85
    assert {g.name for g in report.gates} == {g.name for g in SPEC.gates}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["upstream_champions_recorded"] and checks["champion_alias_agrees"]

    client = MlflowClient(settings.resolved_tracking_uri)
    champion = client.get_model_version_by_alias(SPEC.registry_name, "champion")
    run = client.get_run(champion.run_id)
    assert run.data.params["upstream.task_photos.version"] == "1"
    assert run.data.tags["upstream.face_verifier.version"] == "1"
    logged = mlflow.models.get_model_info(champion.source)
    assert logged.metadata["upstream.face_verifier.version"] == "1"
    assert logged.signature.inputs.input_names()[:2] == [
        "confirmed_label_probability",
        "max_probability",
    ]

    # The inference server serves the registered champion (signature and hash checked).
    serving = ServingSettings(
        home=settings.home,
        tracking_uri=settings.resolved_tracking_uri,
        models="confirmation_risk",
        poll_interval_s=0,
        push=False,
        record_predictions=False,
    )
    with TestClient(create_app(serving)) as client:
        assert report.challenger.version == str(champion.version)
        answer = client.post(
            "/models/confirmation_risk/predict",
            json={
                "confirmations": [
                    {
                        "confirmed_label_probability": 0.97,
                        "max_probability": 0.97,
                        "entropy": 0.1,
                        "face_score": 0.05,
                    }
                ]
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == str(champion.version)
        assert answer.json()["predictions"][0]["risky"] is True  # an impostor's face score
