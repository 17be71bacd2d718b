"""Own trainers through the real retraining job: the built-in CNN in-process and as a Pipes
process, and examples/train.py, keep one contract; a trainer that leaves nothing usable fails the
step and the champion stays."""

import sys
from pathlib import Path

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from mlops_assets.graph.run_log import root_cause
from mlops_assets.graph.trainer_runs import ArgumentType, TrainerArgument, argument_flags
from mlops_assets_tests.graph.test_jobs import materialized, report_of, run_retraining
from mlops_assets_tests.support.photo_graph import REGISTRY, key, node
from mlops_assets_tests.support.trainer_probe import fake_trainer

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "train.py")
BUILT_IN = [sys.executable, "-m", "mlops_assets.ml.trainer"]
EPOCHS = 15
# The trainers this test deployment allows; the launchpad names one of them.
TRAINERS = {
    "subprocess": BUILT_IN,
    "example": [sys.executable, EXAMPLE],
    **{mode: fake_trainer(mode) for mode in ("garbage", "bad-model", "fail")},
}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"trainers": TRAINERS})


def test_typed_arguments_become_flags_and_bad_values_are_refused():
    arguments = [
        TrainerArgument(name="hidden_units", value="64", kind=ArgumentType.INT),
        TrainerArgument(name="dropout", value="0.25", kind=ArgumentType.FLOAT),
        TrainerArgument(name="mlflow", value="true", kind=ArgumentType.BOOL),
        TrainerArgument(name="verbose", value="no", kind=ArgumentType.BOOL),
        TrainerArgument(name="optimizer", value="adam"),
    ]
    assert argument_flags(arguments) == [
        "--hidden-units", "64", "--dropout", "0.25", "--mlflow", "--optimizer", "adam",
    ]  # fmt: skip
    with pytest.raises(dg.Failure, match="hidden_units='sixty' is not a int"):
        argument_flags([TrainerArgument(name="hidden_units", value="sixty", kind="int")])


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def observations(instance, run_id) -> list[dict]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION
    ).records
    return [
        {k: v.value for k, v in r.event_log_entry.asset_observation.metadata.items()}
        for r in records
    ]


@pytest.mark.model
@pytest.mark.parametrize(
    "trainer, epochs",
    [("built-in", EPOCHS), ("subprocess", EPOCHS), ("example", 30)],
    ids=["in-process", "built-in", "example"],
)
def test_every_trainer_reaches_a_registered_challenger_with_live_progress(
    trainer, epochs, definitions, resources, seeded_store, instance
):
    result = run_retraining(
        definitions,
        instance,
        training={"epochs": epochs, "patience": epochs, "trainer": trainer},
    )
    command = TRAINERS.get(trainer, [])
    assert result.success
    report = report_of(result)
    assert report.decision == "promoted"
    registry = resources["model_registry"].get_client(REGISTRY)
    challenger = registry.by_alias("challenger")
    assert challenger.version == "1" and challenger.sha256
    assert registry.history()[-1]["action"] == "promoted" and registry.champion().version == "1"

    progress = observations(instance, result.run_id)
    assert [p["epoch"] for p in progress] == list(range(1, epochs + 1))
    assert progress[-1]["percent"] == 100.0 and progress[-1]["metric"] == "val_accuracy"
    assert all(p["total_epochs"] == epochs and p["eta_s"] >= 0 for p in progress)

    history = MlflowClient(registry.tracking_uri).get_metric_history(
        challenger.run_id, "val_accuracy"
    )
    assert [m.step for m in history] == list(range(1, epochs + 1))
    (model_meta,) = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == key("trained_model")
    ]
    assert model_meta["epochs"].value == epochs
    if command:
        assert model_meta["trainer"].value.endswith(command[-1])
        assert len(model_meta["trainer_model_sha256"].value) == 64
    if command == BUILT_IN:  # reported through Pipes by the trainer process itself
        assert model_meta["trainer_kind"].value == "built-in CNN (subprocess)"


@pytest.mark.model
def test_the_example_trainer_can_hand_its_model_over_through_its_mlflow_run(
    definitions, resources, seeded_store, instance
):
    result = run_retraining(
        definitions,
        instance,
        training={
            "epochs": EPOCHS,
            "trainer": "example",
            "trainer_args": [{"name": "model_to_mlflow", "value": "true", "kind": "BOOL"}],
        },
    )
    assert result.success
    (model_meta,) = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == key("trained_model")
    ]
    trainer_run = model_meta["trainer_mlflow_run"].value
    registry = resources["model_registry"].get_client(REGISTRY)
    challenger = registry.by_alias("challenger")
    client = MlflowClient(registry.tracking_uri)
    trainer_run_id = client.get_run(challenger.run_id).data.tags["trainer_mlflow_run_id"]
    assert trainer_run.endswith(f"/runs/{trainer_run_id}")
    assert client.get_run(trainer_run_id).data.params["hidden_units"] == "128"


@pytest.mark.model
def test_a_trainer_that_leaves_nothing_usable_fails_and_the_champion_stays(
    definitions, resources, seeded_store, instance
):
    first = run_retraining(definitions, instance, training={"epochs": EPOCHS})
    registry = resources["model_registry"].get_client(REGISTRY)
    assert first.success and registry.champion().version == "1"
    for mode, says in [
        ("garbage", "wrote no .keras model"),
        ("bad-model", "does not load as a Keras model"),
        ("fail", "CUDA out of memory (simulated)"),
    ]:
        result = run_retraining(definitions, instance, training={"trainer": mode})
        assert not result.success
        assert materialized(result) == {key("training_data")}
        (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failure.step_key == node("trained_model")
        # After the step's retries the failure wraps what the trainer did: read the root cause.
        assert says in root_cause(failure.step_failure_data.error)
        assert registry.champion().version == "1"
        assert registry.by_alias("challenger").version == "1"


def test_the_launchpad_chooses_a_configured_trainer_by_name_only(resources):
    trainer = resources["trainer"]
    assert trainer.command_for("example") == [sys.executable, EXAMPLE]
    assert trainer.command_for("built-in") == [] and trainer.command_for("") == []
    with pytest.raises(dg.Failure, match="no trainer named 'sh' in this deployment"):
        trainer.command_for("sh")


def test_a_command_in_the_run_config_is_refused(definitions, instance, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(dg.DagsterInvalidConfigError, match="trainer_command"):
        run_retraining(
            definitions,
            instance,
            training={"trainer_command": ["sh", "-c", f"touch {marker}"]},
        )
    assert not marker.exists()
