"""The factory: each model's graph comes from its spec, a bad fleet file fails the load with one
message naming the file, the model and the field, and a third, copied model loads and
materializes without code changes."""

import copy

import dagster as dg
import pytest
import yaml

from mlops_assets.backends import factory
from mlops_assets.constants import DEFAULT_MODEL_NAME
from mlops_assets.contracts.fleet import SHIPPED_FLEET_FILE, FleetFileError, load_fleet
from mlops_assets.definitions import build_definitions
from mlops_assets.graph import model_graph
from mlops_assets.graph.assets.monitoring import MonitorConfig
from mlops_assets.graph.model_graph import GraphOptions, health_policy
from mlops_assets.graph.model_names import ModelNames
from mlops_assets_tests.support.fleet_files import EXAMPLE_FLEET_FILE, write_fleet

PHOTO = load_fleet().model("task_photos")
COPY = ModelNames("task_photos_copy")
COPY_REGISTRY = "task-photo-classifier-copy"


def shipped() -> dict:
    return yaml.safe_load(SHIPPED_FLEET_FILE.read_text())


def with_copy(fleet: dict) -> dict:
    """The fleet with a third model: task_photos copied under its own name, registry, route,
    cadence and accuracy threshold."""
    entry = copy.deepcopy(fleet["models"][0])
    entry.update(
        name=COPY.model,
        registry_name=COPY_REGISTRY,
        serving_route="/models/task_photos_copy",
        cadence="30 4 * * 0",
    )
    entry["gates"][0]["threshold"] = 0.5
    fleet["models"].append(entry)
    return fleet


def load_error(settings, tmp_path, fleet: dict) -> str:
    path = write_fleet(tmp_path, fleet)
    with pytest.raises(FleetFileError) as error:
        build_definitions(settings.model_copy(update={"models_file": path}))
    message = str(error.value)
    assert message.startswith(f"fleet file {path}: "), message
    return message


def test_defaults_are_the_specs():
    # The server and the CLI still read MLOPS_MODEL_NAME; its default is the spec's name.
    assert DEFAULT_MODEL_NAME == PHOTO.registry_name
    config = MonitorConfig().resolved(PHOTO.monitor)
    assert (config.window_days, config.target_accuracy) == (7, PHOTO.monitor.target_value)
    assert config.thresholds().input_statistic == PHOTO.monitor.input_drift_threshold
    policy = health_policy(PHOTO, GraphOptions())
    assert (policy.target_accuracy, policy.min_samples) == (0.90, PHOTO.monitor.min_samples)
    overridden = health_policy(PHOTO, GraphOptions(health_min_samples=7))
    assert overridden.min_samples == 7


def test_gate_checks_are_named_and_graded_by_the_spec(definitions):
    graph = definitions.resolve_asset_graph()
    severities = {}
    for key in graph.asset_check_keys:
        if key.asset_key == ModelNames("task_photos").verification_report:
            severities[key.name] = graph.get_check_spec(key)
    assert set(severities) == {gate.name for gate in PHOTO.gates}


def test_a_third_copied_model_gets_its_whole_graph(settings, tmp_path):
    definitions = build_definitions(
        settings.model_copy(update={"models_file": write_fleet(tmp_path, with_copy(shipped()))})
    )
    repo = definitions.get_repository_def()
    keys = {k for k in repo.asset_graph.get_all_asset_keys() if k.path[0] == COPY.model}
    assert keys == {COPY.key(stage) for stage in ("champion_monitor",)} | set(COPY.retraining_keys)
    assert {repo.asset_graph.get(k).group_name for k in keys} == {COPY.model}
    assert {COPY.retrain_job, COPY.monitor_job, COPY.rollback_job} <= {
        j.name for j in repo.get_all_jobs()
    }
    # Its cadence drives its own automation sensor.
    assert COPY.automation_sensor in {s.name for s in repo.sensor_defs}
    condition = repo.asset_graph.get(COPY.training_data).automation_condition
    assert "on_cron(30 4 * * 0, UTC)" in str(condition.get_snapshot())
    # One replication sensor for the shared source, requesting both models' retraining.
    sensor = repo.get_sensor_def("task_confirmed_events_sensor")
    assert {t.job_name for t in sensor.targets} == {
        "task_photos_retrain_job",
        COPY.retrain_job,
    }
    assert {COPY.health_sensor, COPY.outbox_sensor} <= {s.name for s in repo.sensor_defs}


def test_a_source_kind_without_a_builder_fails_the_load(settings, tmp_path, monkeypatch):
    # Every source kind has a builder today; a kind added to the spec before its builder must
    # fail.
    monkeypatch.delitem(model_graph.BUILDERS, "face_vectors")
    message = load_error(settings, tmp_path, yaml.safe_load(EXAMPLE_FLEET_FILE.read_text()))
    assert "model 'face_verifier', field source.kind: no graph builder for face_vectors" in message


def break_unknown_key(fleet):
    fleet["models"][0]["cadance"] = "0 2 * * *"
    return "model 'task_photos', field cadance: unknown key"


def break_duplicate_name(fleet):
    with_copy(fleet)["models"][1]["name"] = "task_photos"
    return "model 'task_photos', field name: 'task_photos' is declared more than once"


def break_unknown_metric(fleet):
    fleet["models"][0]["gates"][0]["metric"] = "acuracy"
    return "model 'task_photos', field gates[0].metric: unknown metric 'acuracy'"


def break_unknown_comparison(fleet):
    fleet["models"][0]["gates"][0]["comparison"] = "=>"
    return "model 'task_photos', field gates[0].comparison: Input should be '>'"


def break_cron(fleet):
    fleet["models"][0]["cadence"] = "0 2 * *"
    return "model 'task_photos', field cadence: invalid cron"


def break_monitor_cron(fleet):
    fleet["models"][0]["monitor"]["cron"] = "hourly"
    return "model 'task_photos', field monitor.cron: invalid cron"


def break_missing_field(fleet):
    del fleet["models"][0]["registry_name"]
    return "model 'task_photos', field registry_name: missing (required)"


@pytest.mark.parametrize(
    "breaks",
    [
        break_unknown_key,
        break_duplicate_name,
        break_unknown_metric,
        break_unknown_comparison,
        break_cron,
        break_monitor_cron,
        break_missing_field,
    ],
)
def test_a_bad_fleet_file_fails_the_load_naming_file_model_and_field(settings, tmp_path, breaks):
    fleet = shipped()
    expected = breaks(fleet)
    assert expected in load_error(settings, tmp_path, fleet)


def test_the_variable_names_the_fleet_the_code_location_loads(settings, tmp_path, monkeypatch):
    path = write_fleet(tmp_path, with_copy(shipped()))
    monkeypatch.setenv("MLOPS_MODELS_FILE", str(path))
    definitions = build_definitions(type(settings)(home=settings.home, retry_delay_s=0))
    assert definitions.get_job_def(COPY.retrain_job).name == COPY.retrain_job


@pytest.mark.model
def test_the_copied_model_materializes_without_code_changes(settings, tmp_path, seeded_store):
    copied = settings.model_copy(
        update={"models_file": write_fleet(tmp_path, with_copy(shipped()))}
    )
    definitions = build_definitions(copied)
    month = "2024-12-01"
    with dg.DagsterInstance.ephemeral() as instance:
        result = definitions.resolve_job_def(COPY.retrain_job).execute_in_process(
            instance=instance, partition_key=month, raise_on_error=False
        )
        assert result.success
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert set(COPY.retraining_keys) <= materialized
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks["accuracy_above_minimum"] is True
        report = result.output_for_node(COPY.verification_report.to_python_identifier())
        # The copy's own threshold (0.5), not the photo model's 0.90.
        assert report.gate("accuracy_above_minimum").threshold == 0.5
        change = result.output_for_node(COPY.champion_model.to_python_identifier())
        assert change.decision == "promoted"
    registry = factory.registry(copied.model_copy(update={"model_name": COPY_REGISTRY}))
    assert registry.champion().version == change.version
    # The photo model's registered model is untouched.
    assert factory.registry(copied).champion() is None


def test_the_downstream_training_data_reads_the_upstream_champions_of_its_month(settings):
    graph = build_definitions(settings).resolve_asset_graph()
    risk = ModelNames("confirmation_risk")
    node = graph.get(risk.training_data)
    upstream = {
        ModelNames("task_photos").champion_model,
        ModelNames("face_verifier").champion_model,
    }
    assert node.parent_keys == upstream
    for key in upstream:
        mapping = node.partition_mappings.get(key)
        assert isinstance(mapping, dg.IdentityPartitionMapping)
    # The downstream model has its own group and no champion_monitor.
    assert node.group_name == "confirmation_risk"
    assert not graph.has(risk.champion_monitor)


def test_an_upstream_models_graph_needs_its_fleet():
    risk = load_fleet().model("confirmation_risk")
    with pytest.raises(FleetFileError, match="built from the fleet that declares its upstream"):
        model_graph.model_definitions(risk, GraphOptions())
