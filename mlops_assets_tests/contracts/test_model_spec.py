"""Model specs: the rules that look at several fields at once, and the cron rules."""

import copy

import pytest
import yaml
from pydantic import ValidationError

from mlops_assets.contracts import gate_spec, model_spec
from mlops_assets.contracts.fleet import FleetSpec
from mlops_assets.contracts.model_spec import ModelSpec, cron_problem
from mlops_assets_tests.support.fleet_files import EXAMPLE_FLEET_FILE

MODELS = yaml.safe_load(EXAMPLE_FLEET_FILE.read_text())["models"]


def spec(index: int = 1, **changes) -> dict:
    raw = copy.deepcopy(MODELS[index])
    raw.update(changes)
    return raw


def problem(raw: dict) -> str:
    with pytest.raises(ValidationError) as error:
        ModelSpec.model_validate(raw)
    return str(error.value)


def test_the_task_follows_the_source():
    assert ModelSpec.model_validate(spec(0)).task == "classification"
    assert ModelSpec.model_validate(spec(1)).task == "verification"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trainer": {"builtin": "photo_cnn"}}, "trainer.builtin: photo_cnn trains classification"),
        ({"trainer": {}}, "give exactly one of builtin or command"),
        ({"trainer": {"builtin": "face_projection", "command": "x"}}, "exactly one"),
        ({"target_far": None}, "target_far: required for verification models"),
        ({"source": {"kind": "face_vectors"}}, "needs the queue its events arrive on"),
        ({"source": {"kind": "upstream_models", "queue": "q"}}, "reads no queue"),
        ({"upstream": ["task_photos"]}, "upstream: an upstream_models source needs upstream"),
        ({"registry_name": "face verifier"}, "registry_name"),
        ({"serving_route": "models/face"}, "serving_route"),
        ({"name": "face-verifier"}, "name"),
        ({"min_improvement": -0.01}, "min_improvement"),
        ({"gates": []}, "gates"),
    ],
)
def test_inconsistent_declarations_name_the_field(changes, message):
    assert message in problem(spec(**changes))


def test_a_gate_name_twice():
    raw = spec()
    raw["gates"].append(copy.deepcopy(raw["gates"][0]))
    assert "gates: a gate name appears twice" in problem(raw)


def test_the_monitor_target_must_be_a_metric_of_the_task():
    raw = spec()
    raw["monitor"]["target_metric"] = "accuracy"
    assert "monitor.target_metric: a verification model does not report 'accuracy'" in problem(raw)


def test_a_classifier_takes_no_target_far():
    assert "target_far: required for verification models, only for them" in problem(
        spec(0, target_far=0.001)
    )


def test_an_own_trainer_command_replaces_the_builtin():
    raw = spec(0, trainer={"command": "python examples/train.py", "timeout_s": 60})
    assert ModelSpec.model_validate(raw).trainer.command == "python examples/train.py"


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 2 * * *", None),
        ("0 2 * *", "is not a cron expression"),
        ("0 2 * * * 0", "has 6 fields; Dagster schedules take 5"),
        ("0 0 31 2 *", "names a day February never has"),
    ],
)
def test_cron_problems_say_why(cron, expected):
    found = cron_problem(cron)
    assert found is None if expected is None else expected in found


def test_every_field_of_every_spec_is_documented():
    specs = [FleetSpec] + [
        value
        for module in (gate_spec, model_spec)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, gate_spec.Spec)
        and value is not gate_spec.Spec
    ]
    assert len(specs) >= 7
    undocumented = [
        f"{spec.__name__}.{name}"
        for spec in specs
        for name, field in spec.model_fields.items()
        if not field.description
    ]
    assert undocumented == []
