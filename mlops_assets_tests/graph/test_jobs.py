"""The retraining run end to end: real TensorFlow training, real MLflow on a SQLite file."""

import json

import dagster as dg
import mlflow
import pytest
from mlflow.tracking import MlflowClient

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import VerificationReport
from mlops_assets_tests.support.photo_graph import PHOTO, REGISTRY, key, node

pytestmark = pytest.mark.model

# Deterministic (fixed seeds, op determinism): on the 2024-12 holdout the first scores 0.973,
# the second 0.987.
WEAK = {"epochs": 10}
STRONG = {"filters": 16, "dense_units": 32}


MONTH = "2024-12-01"


def run_retraining(definitions, instance, training=None, verification=None, month=MONTH):
    run_config = {
        "ops": {
            node("trained_model"): {"config": training or {}},
            node("verification_report"): {"config": verification or {}},
        }
    }
    job = definitions.resolve_job_def(PHOTO.retrain_job)
    return job.execute_in_process(
        run_config=run_config, instance=instance, partition_key=month, raise_on_error=False
    )


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def report_of(result) -> VerificationReport:
    return result.output_for_node(node("verification_report"))


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_first_run_makes_a_champion_with_receipts(definitions, resources, seeded_store, instance):
    result = run_retraining(definitions, instance)
    assert result.success
    assert materialized(result) == {
        key("training_data"),
        key("trained_model"),
        key("verification_report"),
        key("champion_model"),
        key("deployment"),
    }
    registry = resources["model_registry"].get_client(REGISTRY)
    champion = registry.champion()
    assert champion is not None and champion.version == "1"
    assert registry.by_alias("challenger").version == "1"

    checks = result.get_asset_check_evaluations()
    assert len(checks) == 8 and all(c.passed for c in checks)

    by_key = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    model_meta = by_key[key("trained_model")]
    assert model_meta["model_version"].value == "1"
    assert model_meta["mlflow_run"].value.startswith("http://127.0.0.1:5000/#/experiments/")
    assert model_meta["parameters"].value > 0 and model_meta["epochs"].value >= 1
    assert by_key[key("training_data")]["holdout_rows"].value == 150
    assert by_key[key("training_data")]["train_rows"].value == 11 * 150
    assert "data:image/png;base64," in by_key[key("verification_report")]["confusion_plot"].value
    assert by_key[key("champion_model")]["champion_version"].value == "1"
    # Its data version moves with @champion only (lineage shows what a new champion made stale).
    versions = {
        e.asset_key.to_user_string(): e.materialization.tags["dagster/data_version"]
        for e in result.get_asset_materialization_events()
    }
    assert versions[key("champion_model")] == "v1"
    assert by_key[key("deployment")]["status"].value == "no server configured"

    report = report_of(result)
    assert report.decision == "promoted" and report.champion is None
    assert report.month == MONTH
    assert report.challenger.accuracy > 0.9
    assert [g.name for g in report.gates if g.passed] == [
        "accuracy_above_minimum",
        "p95_latency_below_maximum",
        "not_worse_than_champion",
    ]

    client = MlflowClient(registry.tracking_uri)
    run = client.get_run(champion.run_id)
    assert run.data.tags["dagster_run_id"] == result.run_id
    assert run.info.status == "FINISHED"
    assert "val_accuracy" in run.data.metrics and run.data.params["epochs"] == "40"
    logged = client.download_artifacts(champion.run_id, "verification_report.json")
    assert json.load(open(logged))["decision"] == "promoted"
    assert len(client.get_metric_history(champion.run_id, "loss")) >= 2

    # The MLflow model contract of the registered version.
    assert run.info.run_name == "2024-12 challenger v1"
    info = mlflow.models.get_model_info(f"models:/{registry.model_name}/1")
    assert "keras" in info.flavors
    assert info.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 8, 8, 1)
    assert info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"] == (-1, 10)
    assert info.saved_input_example_info is not None
    requirements = open(mlflow.pyfunc.get_model_dependencies(info.model_uri)).read().split()
    assert {r.split("==")[0] for r in requirements} >= {"tensorflow-cpu", "keras", "numpy"}
    assert all("==" in r for r in requirements)
    contexts = {i.tags[0].value: i.dataset.name for i in run.inputs.dataset_inputs if i.tags}
    assert contexts == {
        "training": f"train-{report.data_version}",
        "holdout": f"holdout-{report.data_version}",
    }
    logged = client.get_logged_model(info.model_id)
    linked = {m.key: m.dataset_name for m in logged.metrics}
    assert linked["holdout_accuracy"] == f"holdout-{report.data_version}"


def champion_data_version(result: dg.ExecuteInProcessResult) -> str:
    (event,) = (
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "champion_model"
    )
    return event.materialization.tags["dagster/data_version"]


def test_gates_decide_the_champion_over_runs(definitions, resources, seeded_store, instance):
    registry = resources["model_registry"].get_client(REGISTRY)
    first = run_retraining(definitions, instance, training=WEAK)
    assert first.success and registry.champion().version == "1"
    weak_accuracy = report_of(first).challenger.accuracy

    # A gate saying no is a successful run: the champion is materialized as kept.
    shuffled = run_retraining(definitions, instance, training={"shuffle_labels": True})
    assert shuffled.success and report_of(shuffled).decision == "rejected"
    kept = shuffled.output_for_node(node("champion_model"))
    assert (kept.decision, kept.version, kept.challenger_version) == ("rejected", "1", "2")
    # Kept: the same data version as the month that made v1 the champion.
    assert champion_data_version(shuffled) == champion_data_version(first) == "v1"
    failed = {
        c.check_name: c.severity for c in shuffled.get_asset_check_evaluations() if not c.passed
    }
    assert failed["accuracy_above_minimum"] == dg.AssetCheckSeverity.ERROR
    assert registry.champion().version == "1"
    assert registry.by_alias("challenger").version == "2"
    deployed = shuffled.output_for_node(node("deployment"))
    assert (deployed.status, deployed.version) == ("unchanged", "1")

    # A rerun of the decided month on the same data, launched with the defaults (as the
    # launchpad, the schedule and the sensors do): an equal model defends, no churn.
    same = run_retraining(definitions, instance, training=WEAK)
    assert same.success and report_of(same).decision == "defended"
    assert report_of(same).min_improvement == load_fleet().model("task_photos").min_improvement > 0
    assert report_of(same).challenger.accuracy == pytest.approx(weak_accuracy)
    assert (report_of(same).paired.b, report_of(same).paired.c) == (0, 0)
    assert report_of(same).paired.p_value == 1.0
    assert same.output_for_node(node("champion_model")).decision == "defended"
    failed = [
        (c.check_name, c.severity) for c in same.get_asset_check_evaluations() if not c.passed
    ]
    assert failed == [("not_worse_than_champion", dg.AssetCheckSeverity.WARN)]
    assert registry.champion().version == "1"

    # Two photos more out of 150 are not evidence: the paired rule (the default) defends,
    # so this step runs the previous rule (champion + min_improvement) to promote.
    stronger = run_retraining(
        definitions, instance, training=STRONG, verification={"change_rule": "min_improvement"}
    )
    report = report_of(stronger)
    assert report.challenger.accuracy > report.champion.accuracy
    paired = report.paired
    assert (paired.method, paired.n, paired.change_rule) == (
        "mcnemar_exact",
        150,
        "min_improvement",
    )
    assert paired.b - paired.c == round(
        (report.challenger.accuracy - report.champion.accuracy) * 150
    )
    assert paired.p_value > 0.05 and paired.rule == "not_better"
    assert stronger.success and report.decision == "promoted"
    assert registry.champion().version == "4"
    assert stronger.output_for_node(node("champion_model")).previous_version == "1"
    assert stronger.output_for_node(node("champion_model")).decision == "promoted"

    actions = [(e["action"], e["version"], e["previous"]) for e in registry.history()]
    assert actions == [
        ("promoted", "1", None),
        ("rejected", "2", "1"),
        ("defended", "3", "1"),
        ("promoted", "4", "1"),
    ]
    assert registry.rollback("test") == ("4", "1")
    assert registry.champion().version == "1"
