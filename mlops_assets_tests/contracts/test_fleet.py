"""The fleet file: the shipped fleet loads, MLOPS_MODELS_FILE replaces it, and every kind of bad
file fails with one message naming the file, the model and the field."""

import copy
import tomllib
from pathlib import Path

import pytest
import yaml
from dagster._utils.schedules import is_valid_cron_string

from mlops_assets.contracts.fleet import (
    SHIPPED_FLEET_FILE,
    FleetFileError,
    FleetSpec,
    load_fleet,
    parse_fleet,
)
from mlops_assets.contracts.model_spec import cron_problem
from mlops_assets.settings import SharedSettings
from mlops_assets_tests.support.fleet_files import EXAMPLE_FLEET_FILE, write_fleet

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict:
    """The example fleet with both models, as a dict to break."""
    return yaml.safe_load(EXAMPLE_FLEET_FILE.read_text())


def write(tmp_path: Path, fleet: dict) -> Path:
    return write_fleet(tmp_path, fleet)


def failure(tmp_path: Path, fleet: dict) -> str:
    path = write(tmp_path, fleet)
    with pytest.raises(FleetFileError) as error:
        load_fleet(path)
    message = str(error.value)
    assert message.startswith(f"fleet file {path}: "), message
    return message


def face(fleet: dict) -> dict:
    return fleet["models"][1]


def test_the_shipped_fleet_declares_the_two_models_and_the_downstream_risk_model():
    fleet = load_fleet()
    assert fleet.names == ["task_photos", "face_verifier", "confirmation_risk"]
    example = load_fleet(EXAMPLE_FLEET_FILE)
    assert [fleet.model(name) for name in example.names] == [
        example.model(name) for name in example.names
    ]
    risk = fleet.model("confirmation_risk")
    assert risk.source.kind == "upstream_models" and risk.task == "classification"
    assert risk.upstream == ["task_photos", "face_verifier"]
    assert (risk.trainer.builtin, risk.registry_name) == ("risk_logistic", "confirmation-risk")
    assert fleet.dependency_order()[-1] == "confirmation_risk"
    assert fleet.downstream_of("task_photos") == ["confirmation_risk"]


def test_the_example_fleet_declares_the_photo_classifier_and_the_face_verifier():
    fleet = load_fleet(EXAMPLE_FLEET_FILE)
    assert fleet.names == ["task_photos", "face_verifier"]
    assert fleet.model("task_photos").task == "classification"
    verifier = fleet.model("face_verifier")
    assert verifier.task == "verification"
    assert verifier.target_far == 0.001
    assert verifier.cadence == "0 3 * * 1"  # weekly
    assert {g.name: (g.metric, g.comparison, g.threshold) for g in verifier.gates} == {
        "tar_at_far_above_minimum": ("tar_at_far", ">=", 0.90),
        "eer_not_worse_than_champion": ("eer", "<=", None),
        "verify_latency_below_maximum": ("verify_latency_p95_s", "<", 3.0),
    }
    for spec in fleet.models:
        assert (spec.paired_test.alpha, spec.paired_test.non_inferiority_margin) == (0.05, 0.01)


def test_models_file_variable_replaces_the_shipped_fleet(tmp_path, monkeypatch):
    fleet = shipped()
    third = copy.deepcopy(fleet["models"][0])
    third.update(
        name="task_photos_copy",
        registry_name="task-photo-classifier-copy",
        serving_route="/models/task_photos_copy",
    )
    fleet["models"].append(third)
    monkeypatch.setenv("MLOPS_MODELS_FILE", str(write(tmp_path, fleet)))

    loaded = load_fleet(SharedSettings().models_file)

    assert loaded.names == ["task_photos", "face_verifier", "task_photos_copy"]
    assert loaded.model("task_photos_copy").gates == loaded.model("task_photos").gates


def test_without_the_variable_the_shipped_fleet_loads(monkeypatch):
    monkeypatch.delenv("MLOPS_MODELS_FILE", raising=False)
    assert SharedSettings().models_file is None
    assert load_fleet(SharedSettings().models_file) == load_fleet(SHIPPED_FLEET_FILE)


def test_the_fleet_file_is_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mlops_assets.contracts"]
    assert any(SHIPPED_FLEET_FILE.match(pattern) for pattern in patterns)


def test_unknown_key(tmp_path):
    fleet = shipped()
    face(fleet)["cadance"] = "0 3 * * 1"
    message = failure(tmp_path, fleet)
    assert "model 'face_verifier', field cadance: unknown key" in message


def test_unknown_key_in_a_gate(tmp_path):
    fleet = shipped()
    face(fleet)["gates"][0]["treshold"] = 0.9
    assert "model 'face_verifier', field gates[0].treshold: unknown key" in failure(tmp_path, fleet)


def test_duplicate_name(tmp_path):
    fleet = shipped()
    face(fleet)["name"] = "task_photos"
    message = failure(tmp_path, fleet)
    assert "model 'task_photos', field name: 'task_photos' is declared more than once" in message


@pytest.mark.parametrize("field", ["registry_name", "serving_route"])
def test_two_models_may_not_share_a_registry_name_or_route(tmp_path, field):
    fleet = shipped()
    face(fleet)[field] = fleet["models"][0][field]
    assert f"field {field}: " in failure(tmp_path, fleet)


def test_unknown_metric(tmp_path):
    fleet = shipped()
    face(fleet)["gates"][1]["metric"] = "eerr"
    message = failure(tmp_path, fleet)
    assert "model 'face_verifier', field gates[1].metric: unknown metric 'eerr'" in message


def test_a_metric_the_model_does_not_report(tmp_path):
    fleet = shipped()
    face(fleet)["gates"][0]["metric"] = "accuracy"
    message = failure(tmp_path, fleet)
    assert "model 'face_verifier', field gates[0].metric: a verification model does not " in message


def test_unknown_comparison(tmp_path):
    fleet = shipped()
    fleet["models"][0]["gates"][0]["comparison"] = "=>"
    message = failure(tmp_path, fleet)
    assert "model 'task_photos', field gates[0].comparison: Input should be '>'" in message


def test_a_comparison_against_the_metric_direction(tmp_path):
    fleet = shipped()
    fleet["models"][0]["gates"][1]["comparison"] = ">"  # latency: lower is better
    message = failure(tmp_path, fleet)
    assert "model 'task_photos', field gates[1]: latency_p95_s is better lower" in message


@pytest.mark.parametrize(
    "cron", ["0 3 * *", "61 3 * * 1", "0 0 30 2 *", "0 3 * * 1 *", "weekly", ""]
)
def test_invalid_cron(tmp_path, cron):
    fleet = shipped()
    face(fleet)["cadence"] = cron
    message = failure(tmp_path, fleet)
    assert "model 'face_verifier', field cadence: invalid cron" in message


def test_invalid_monitor_cron(tmp_path):
    fleet = shipped()
    fleet["models"][0]["monitor"]["cron"] = "every hour"
    assert "model 'task_photos', field monitor.cron: invalid cron" in failure(tmp_path, fleet)


@pytest.mark.parametrize(
    "cron",
    [
        "0 2 * * *",
        "0 3 * * 1",
        "*/15 * * * *",
        "0 0 1 * *",
        "@daily",
        "0 3 * *",
        "61 * * * *",
        "0 0 30 2 *",
        "0 0 31 2 *",
        "0 0 29 2 *",
        "* * * * * *",
        "0 0 * * 8",
        "0 0 1-5/2 * *",
    ],
)
def test_cron_rules_are_dagsters(cron):
    assert (cron_problem(cron) is None) == is_valid_cron_string(cron)


@pytest.mark.parametrize(
    ("path", "field", "named"),
    [
        ((), "cadence", "cadence"),
        ((), "registry_name", "registry_name"),
        (("gates", 0), "severity", "gates[0].severity"),
        (("source",), "kind", "source.kind"),
    ],
)
def test_missing_field(tmp_path, path, field, named):
    fleet = shipped()
    entry = face(fleet)
    for part in path:
        entry = entry[part]
    del entry[field]
    message = failure(tmp_path, fleet)
    assert f"model 'face_verifier', field {named}: missing (required)" in message


def test_a_model_without_a_name_is_named_by_position(tmp_path):
    fleet = shipped()
    del face(fleet)["name"]
    message = failure(tmp_path, fleet)
    assert "model '#2 (no name)', field name: missing (required)" in message


def test_a_key_written_twice_fails_instead_of_the_last_one_winning(tmp_path):
    text = EXAMPLE_FLEET_FILE.read_text().replace(
        '    cadence: "0 3 * * 1"\n', '    cadence: "0 3 * * 1"\n    cadence: "0 * * * *"\n'
    )
    with pytest.raises(FleetFileError, match="key 'cadence' appears twice"):
        parse_fleet(text, "fleet.yaml")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("models: [", r'not valid YAML: [\s\S]*in "here.yaml", line 1'),
        ("- just a list", "expected a mapping with 'models', got a list"),
        ("42", "expected a mapping with 'models', got a int"),
        ("", "expected a mapping with 'models', got nothing"),
        ("models: []", "field models: List should have at least 1 item"),
    ],
)
def test_not_a_fleet_at_all(text, reason):
    with pytest.raises(FleetFileError, match=r"^fleet file here\.yaml: " + reason):
        parse_fleet(text, "here.yaml")


def test_a_missing_file_names_it(tmp_path):
    with pytest.raises(FleetFileError, match="nowhere.yaml: cannot be read"):
        load_fleet(tmp_path / "nowhere.yaml")


def test_every_problem_is_reported_up_to_five(tmp_path):
    fleet = shipped()
    for key in ("a", "b", "c", "d", "e", "f", "g"):
        face(fleet)[key] = 1
    assert "(and 2 more)" in failure(tmp_path, fleet)


def downstream(fleet: dict, name: str, upstream: list[str]) -> dict:
    entry = copy.deepcopy(fleet["models"][0])
    entry.update(
        name=name,
        registry_name=f"{name}-model",
        serving_route=f"/models/{name}",
        source={"kind": "upstream_models"},
        trainer={"builtin": "risk_logistic"},
        upstream=upstream,
    )
    fleet["models"].append(entry)
    return fleet


def test_upstream_models_load_in_dependency_order(tmp_path):
    fleet = downstream(shipped(), "confirmation_risk", ["task_photos", "face_verifier"])
    fleet["models"].insert(0, fleet["models"].pop())  # declared first, ordered after its inputs
    loaded = load_fleet(write(tmp_path, fleet))
    order = loaded.dependency_order()
    assert order.index("confirmation_risk") > max(
        order.index("task_photos"), order.index("face_verifier")
    )
    assert loaded.downstream_of("face_verifier") == ["confirmation_risk"]


def test_unknown_upstream(tmp_path):
    fleet = downstream(shipped(), "confirmation_risk", ["task_photos", "face_verifer"])
    message = failure(tmp_path, fleet)
    assert "model 'confirmation_risk', field upstream: unknown model 'face_verifer'" in message


def test_a_cycle_in_upstream_is_named(tmp_path):
    fleet = downstream(shipped(), "risk_a", ["risk_b"])
    fleet = downstream(fleet, "risk_b", ["risk_a", "task_photos"])
    message = failure(tmp_path, fleet)
    assert "field upstream: a cycle: " in message
    cycle = message.split("a cycle: ")[1].split(" -> ")
    assert set(cycle) == {"risk_a", "risk_b"} and cycle[0] == cycle[-1]


def test_a_model_upstream_of_itself_is_a_cycle(tmp_path):
    fleet = downstream(shipped(), "risk", ["risk"])
    assert "model 'risk', field upstream: a cycle: risk -> risk" in failure(tmp_path, fleet)


def test_an_upstream_models_upstream_has_no_feature_reader(tmp_path):
    fleet = downstream(shipped(), "confirmation_risk", ["task_photos", "face_verifier"])
    fleet = downstream(fleet, "second_risk", ["confirmation_risk", "face_verifier"])
    message = failure(tmp_path, fleet)
    assert (
        "model 'second_risk', field upstream: upstream model 'confirmation_risk' "
        "(upstream_models source) has no feature reader"
    ) in message


def test_risk_logistic_needs_an_upstream_of_each_feature_source(tmp_path):
    fleet = downstream(shipped(), "confirmation_risk", ["task_photos"])
    message = failure(tmp_path, fleet)
    assert "model 'confirmation_risk', field upstream: risk_logistic reads one upstream" in message
    assert "none is face_vectors" in message


def test_two_upstreams_of_one_source_kind(tmp_path):
    fleet = shipped()
    copy_of_photos = copy.deepcopy(fleet["models"][0])
    copy_of_photos.update(
        name="photos_b", registry_name="photos-b", serving_route="/models/photos_b"
    )
    fleet["models"].append(copy_of_photos)
    fleet = downstream(fleet, "risk", ["task_photos", "photos_b", "face_verifier"])
    message = failure(tmp_path, fleet)
    assert "model 'risk', field upstream: upstream models 'task_photos' and 'photos_b'" in message


def test_an_upstream_models_model_trains_with_risk_logistic(tmp_path):
    fleet = downstream(shipped(), "risk", ["task_photos", "face_verifier"])
    fleet["models"][-1]["trainer"] = {"builtin": "photo_cnn"}
    assert "model 'risk', field trainer: an upstream_models model trains with" in failure(
        tmp_path, fleet
    )


def test_an_event_source_takes_no_upstream(tmp_path):
    fleet = shipped()
    face(fleet)["upstream"] = ["task_photos"]
    assert "model 'face_verifier', field upstream: " in failure(tmp_path, fleet)


def test_a_spec_built_in_code_is_checked_the_same_way():
    fleet = shipped()
    face(fleet)["name"] = "task_photos"
    with pytest.raises(ValueError, match="declared more than once"):
        FleetSpec.model_validate(fleet)
