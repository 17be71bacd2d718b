"""The face verifier's challenger through Dagster: the built-in face_projection in-process and as
a Pipes trainer process keep one contract (progress observations, MLflow params and metrics, a
registered and signed version); a trainer that leaves no verifier fails and registers nothing."""

import sys

import dagster as dg
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from mlops_assets.backends.face_logged_model import load_face_verifier
from mlops_assets.backends.model_signing import ModelSigner, key_file
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.graph.face_training import FaceTrainingConfig, train_face_challenger
from mlops_assets.ml.face_data import FACE_COLUMNS, face_snapshot
from mlops_assets.resources.trainer import TrainerResource

SPEC = load_fleet().model("face_verifier")
KEY = dg.AssetKey([SPEC.name, "trained_model"])
TRAINERS = {
    "subprocess": [sys.executable, "-m", "mlops_assets.ml.face_trainer"],
    "silent": [sys.executable, "-c", "import sys; sys.exit(0)"],
}


@pytest.fixture(scope="module")
def snapshot():
    scenario = FaceScenario(identities_per_month=30, vectors_per_identity=6)
    frame = pd.DataFrame(
        [
            {name: getattr(event, name) for name in FACE_COLUMNS}
            for month in range(1, 4)
            for event in month_face_events(scenario, month)
        ]
    )
    end = pd.Timestamp(scenario.calendar.month_start(4))
    return face_snapshot(frame, "2024-03-01", end, pd.Timestamp("2030-01-01", tz="UTC"))


@pytest.fixture
def registry(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "face", artifact_location=(tmp_path / "artifacts").as_uri()
    ))  # fmt: skip
    yield RegistryClient(uri, SPEC.registry_name, signer=ModelSigner(None, key_file(tmp_path)))
    mlflow.set_tracking_uri(None)


def materialize(snapshot, registry, instance, **config):
    @dg.asset(key=KEY)
    def trained_model(
        context: dg.AssetExecutionContext, config: FaceTrainingConfig, trainer: TrainerResource
    ) -> dg.Output[RegisteredModel]:
        with mlflow.start_run():  # what dagster-mlflow's resource does in the job
            return train_face_challenger(context, config, snapshot, registry, trainer, SPEC)

    return dg.materialize(
        [trained_model],
        resources={"trainer": TrainerResource(trainers=TRAINERS)},
        run_config={"ops": {"face_verifier__trained_model": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def observations(instance, run_id) -> list[tuple[dg.AssetKey, dict]]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION
    ).records
    return [
        (
            r.event_log_entry.asset_observation.asset_key,
            {k: v.value for k, v in r.event_log_entry.asset_observation.metadata.items()},
        )
        for r in records
    ]


@pytest.mark.parametrize("trainer", ["", "subprocess"], ids=["in-process", "pipes"])
def test_every_face_trainer_reaches_a_registered_signed_challenger(
    snapshot, registry, instance, trainer, tmp_path
):
    result = materialize(snapshot, registry, instance, trainer=trainer, components=16)
    assert result.success
    challenger = registry.by_alias("challenger")
    assert (challenger.name, challenger.version) == ("face-verifier", "1")
    registry.signer.verify(
        challenger.sha256, challenger.name, challenger.version, challenger.signature
    )
    verifier = load_face_verifier(
        registry.download_version_folder("1", tmp_path / "dl"), challenger.sha256
    )
    assert verifier.projection.shape == (128, 16) and verifier.target_far == SPEC.target_far

    progress = observations(instance, result.run_id)
    assert [key for key, _ in progress] == [KEY, KEY]
    assert [(p["epoch"], p["total_epochs"]) for _, p in progress] == [(1, 2), (2, 2)]
    assert progress[-1][1]["metric"] == "val_tar_at_far"

    run = MlflowClient(registry.tracking_uri).get_run(challenger.run_id)
    counts = snapshot.counts()
    assert run.data.params["data_version"] == snapshot.data_version
    assert run.data.params["holdout_identities"] == str(counts["holdout_identities"])
    assert float(run.data.params["target_far"]) == SPEC.target_far
    assert 0 < run.data.metrics["val_tar_at_far"] <= 1
    assert run.data.tags["mlflow.runName"] == "2024-03 challenger v1"
    inputs = {d.dataset.name for d in run.inputs.dataset_inputs}
    assert inputs == {f"train-{snapshot.data_version}", f"holdout-{snapshot.data_version}"}

    (meta,) = [e.materialization.metadata for e in result.get_asset_materialization_events()]
    assert meta["artifact_sha256"].value == challenger.sha256
    assert meta["threshold"].value == verifier.threshold
    if trainer:
        assert meta["trainer_kind"].value == "built-in face_projection (subprocess)"
        assert len(meta["trainer_model_sha256"].value) == 64


def test_a_trainer_that_leaves_no_verifier_fails_and_registers_nothing(
    snapshot, registry, instance
):
    result = materialize(snapshot, registry, instance, trainer="silent")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "wrote 0 face_verifier.npz" in failure.step_failure_data.error.message
    assert registry.by_alias("challenger") is None
