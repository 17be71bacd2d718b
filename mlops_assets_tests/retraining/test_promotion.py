"""Settling a decided month on a real (SQLite) MLflow registry: the alias moves exactly when
every gate passed, and every decision says who serves after it."""

import pytest

from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.stage_results import VerificationReport
from mlops_assets.retraining import gates
from mlops_assets.retraining.promotion import settle_champion
from mlops_assets_tests.retraining.test_gates import score
from mlops_assets_tests.support.registry import register


@pytest.fixture
def registry(tmp_path) -> RegistryClient:
    return RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "promotion-test")


def report(month: str, challenger: str, accuracy: float, champion: float | None = None):
    challenger_score = score(challenger, accuracy)
    champion_score = None if champion is None else score("1", champion)
    results = gates.evaluate(challenger_score, champion_score, 0.0)
    return VerificationReport(
        month=month,
        data_version="d",
        holdout_rows=100,
        holdout_start=month,
        min_improvement=0.0,
        challenger=challenger_score,
        champion=champion_score,
        gates=results,
        decision=gates.decide(results),
    )


def test_each_decision_says_who_serves_and_moves_the_alias_only_on_promotion(registry, tmp_path):
    register(registry, tmp_path, 4)
    first = settle_champion(registry, report("2025-01-01", "1", 0.95))
    assert (first.decision, first.version, first.previous_version, first.alias_moved) == (
        "promoted",
        "1",
        None,
        True,
    )
    defended = settle_champion(registry, report("2025-02-01", "2", 0.94, champion=0.95))
    assert (defended.decision, defended.version, defended.alias_moved) == ("defended", "1", False)
    assert "falls short of champion v1" in defended.reasons[0]
    rejected = settle_champion(registry, report("2025-03-01", "3", 0.5, champion=0.95))
    assert (rejected.decision, rejected.version, rejected.challenger_version) == (
        "rejected",
        "1",
        "3",
    )
    assert registry.champion().version == "1"
    promoted = settle_champion(registry, report("2025-04-01", "4", 0.97, champion=0.95))
    assert (promoted.version, promoted.previous_version) == ("4", "1")
    assert registry.champion().version == "4"
    assert [(e["action"], e["version"], e["previous"]) for e in registry.history()] == [
        ("promoted", "1", None),
        ("defended", "2", "1"),
        ("rejected", "3", "1"),
        ("promoted", "4", "1"),
    ]


def test_a_rerun_of_an_old_month_keeps_the_later_champion(registry, tmp_path):
    register(registry, tmp_path, 3)
    settle_champion(registry, report("2025-01-01", "1", 0.95))
    settle_champion(registry, report("2025-03-01", "2", 0.97, champion=0.95))
    rerun = settle_champion(registry, report("2025-02-01", "3", 0.99, champion=0.95))
    assert (rerun.decision, rerun.version, rerun.alias_moved) == ("defended", "2", False)
    assert "a later month already promoted" in rerun.reasons[0]
    assert registry.champion().version == "2"


def test_a_report_whose_recorded_decision_lies_cannot_promote(registry, tmp_path):
    register(registry, tmp_path, 2)
    settle_champion(registry, report("2025-01-01", "1", 0.95))
    forged = report("2025-02-01", "2", 0.5, champion=0.95).model_copy(
        update={"decision": "promoted"}
    )
    kept = settle_champion(registry, forged)
    assert (kept.decision, kept.version) == ("rejected", "1")
    assert registry.champion().version == "1"
