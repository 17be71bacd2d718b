"""Gate specs: the bound each kind of gate compares with, and the declarations refused."""

import pytest
from pydantic import ValidationError

from mlops_assets.contracts.gate_spec import GateSpec, PairedTestSpec


def gate(**fields) -> GateSpec:
    return GateSpec.model_validate({"name": "g", "severity": "ERROR", **fields})


def test_a_threshold_gate_compares_with_its_threshold_whatever_the_champion():
    spec = gate(metric="accuracy", comparison=">", threshold=0.9)
    assert spec.bound(None, 0.5) == spec.bound(0.99, 0.5) == 0.9
    assert spec.passes(0.91, 0.9) and not spec.passes(0.9, 0.9)


def test_a_champion_gate_without_tolerance_asks_for_min_improvement_in_the_better_direction():
    higher = gate(metric="accuracy", comparison=">=", against="champion")
    assert higher.bound(0.95, 0.01) == pytest.approx(0.96)
    assert higher.passes(0.96, 0.96) and not higher.passes(0.955, 0.96)
    lower = gate(metric="eer", comparison="<=", against="champion")
    assert lower.bound(0.05, 0.01) == pytest.approx(0.04)


def test_a_champion_gate_with_tolerance_allows_that_much_worse():
    eer = gate(metric="eer", comparison="<=", against="champion", tolerance=0.005)
    assert eer.bound(0.02, 0.01) == pytest.approx(0.025)  # tolerance replaces min_improvement
    assert eer.passes(0.024, eer.bound(0.02, 0.0))
    tar = gate(metric="tar_at_far", comparison=">", against="champion", tolerance=0.02)
    assert tar.bound(0.95, 0.0) == pytest.approx(0.93)


def test_with_no_champion_a_champion_gate_passes():
    spec = gate(metric="accuracy", comparison=">=", against="champion")
    assert spec.bound(None, 0.01) is None and spec.passes(0.0, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "accuracy", "comparison": ">"}, "needs threshold"),
        (
            {"metric": "accuracy", "comparison": ">", "against": "champion", "threshold": 0.9},
            "takes no threshold",
        ),
        (
            {"metric": "accuracy", "comparison": ">", "threshold": 0.9, "tolerance": 0.1},
            "tolerance applies only",
        ),
        ({"metric": "eer", "comparison": ">=", "threshold": 0.1}, "eer is better lower"),
        ({"metric": "accuracy", "comparison": "<", "threshold": 0.1}, "better higher"),
        ({"metric": "accuracy", "comparison": ">", "threshold": 0.9, "name": "a-b"}, "pattern"),
        ({"metric": "accuracy", "comparison": ">", "threshold": 0.9, "severity": "INFO"}, "ERROR"),
        (
            {"metric": "eer", "comparison": "<=", "against": "champion", "tolerance": -0.1},
            "greater than or equal to 0",
        ),
    ],
)
def test_refused_declarations(fields, message):
    with pytest.raises(ValidationError, match=message):
        gate(**fields)


def test_paired_test_defaults_and_bounds():
    spec = PairedTestSpec()
    assert (spec.alpha, spec.non_inferiority_margin, spec.bootstrap_resamples) == (0.05, 0.01, 1000)
    for bad in ({"alpha": 0}, {"alpha": 1}, {"bootstrap_resamples": 999}):
        with pytest.raises(ValidationError):
            PairedTestSpec(**bad)
