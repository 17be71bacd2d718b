"""Settling a decided month on a real (SQLite) MLflow registry: the alias moves exactly when
every gate passed, and every decision says who serves after it."""

import pytest

from mlops_assets.backends.champion_moves import DECISION_TAG, ChampionConflict
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import ModelScore, VerificationReport
from mlops_assets.retraining import gates
from mlops_assets.retraining.promotion import settle_champion
from mlops_assets_tests.support.registry import register

GATES = load_fleet().model("task_photos").gates


def score(version: str, accuracy: float, p95: float = 0.001) -> ModelScore:
    return ModelScore(
        version=version,
        run_id=None,
        accuracy=accuracy,
        per_class_accuracy={},
        confusion=[],
        load_seconds=0.1,
        latency_p50_s=p95 / 2,
        latency_p95_s=p95,
        latency_p99_s=p95 * 2,
    )


@pytest.fixture
def registry(tmp_path) -> RegistryClient:
    return RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "promotion-test")


def report(
    month: str,
    challenger: str,
    accuracy: float,
    champion: float | None = None,
    champion_version: str = "1",
):
    challenger_score = score(challenger, accuracy)
    champion_score = None if champion is None else score(champion_version, champion)
    results = gates.evaluate(
        GATES, challenger_score.metrics, champion_score.metrics if champion_score else None, 0.0
    )
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
    assert "does not meet >= champion 0.9500" in defended.reasons[0]
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
    assert "a later month is already decided" in rerun.reasons[0]
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


def test_case1_rematerializing_the_newest_promotion_keeps_the_rollback_target(registry, tmp_path):
    register(registry, tmp_path, 2)
    settle_champion(registry, report("2025-01-01", "1", 0.95))
    newest = report("2025-02-01", "2", 0.97, champion=0.95)
    first = settle_champion(registry, newest)
    again = settle_champion(registry, newest)
    assert (again.version, again.previous_version) == ("2", "1") == (first.version, "1")
    assert registry.rollback("regret") == ("2", "1")
    assert registry.champion().version == "1"


def test_case2_a_stale_report_cannot_replace_a_champion_promoted_meanwhile(registry, tmp_path):
    register(registry, tmp_path, 3)
    settle_champion(registry, report("2025-01-01", "1", 0.91))
    stale = report("2025-02-01", "3", 0.94, champion=0.91)
    settle_champion(registry, report("2025-02-01", "2", 0.99, champion=0.91))
    with pytest.raises(ChampionConflict, match="@champion is v2, not v1"):
        settle_champion(registry, stale)
    assert registry.champion().version == "2"


def test_case3_rerunning_an_old_month_keeps_todays_champion_after_unpromoted_months(
    registry, tmp_path
):
    register(registry, tmp_path, 4)
    settle_champion(registry, report("2025-01-01", "1", 0.95))
    settle_champion(registry, report("2025-02-01", "2", 0.94, champion=0.95))
    settle_champion(registry, report("2025-03-01", "3", 0.5, champion=0.95))
    assert registry.champion_for("2025-02-01").version == "1"
    rerun = settle_champion(registry, report("2025-02-01", "4", 0.99, champion=0.95))
    assert (rerun.decision, rerun.version, rerun.alias_moved) == ("defended", "1", False)
    assert registry.champion().version == "1"


def test_case7_a_defended_rerun_records_its_decision(registry, tmp_path):
    register(registry, tmp_path, 3)
    settle_champion(registry, report("2025-01-01", "1", 0.95))
    settle_champion(registry, report("2025-03-01", "2", 0.97, champion=0.95))
    settle_champion(registry, report("2025-02-01", "3", 0.99, champion=0.95))
    decisions = [(e["action"], e["version"], e["previous"]) for e in registry.history()]
    assert decisions[-1] == ("defended", "3", "2")
    last = registry.history()[-1]
    assert (last["action"], last["version"], last["previous"], last["month"]) == (
        "defended",
        "3",
        "2",
        "2025-02-01",
    )
    assert registry.client().get_model_version(registry.model_name, "3").tags[DECISION_TAG] == (
        "defended"
    )


def test_a_retried_step_records_its_decision_once(registry, tmp_path):
    register(registry, tmp_path, 2)
    settle_champion(registry, report("2025-01-01", "1", 0.95), "run-a/champion_model")
    rejected = report("2025-02-01", "2", 0.5, champion=0.95)
    for _ in range(2):
        settle_champion(registry, rejected, "run-b/champion_model")
    assert [(e["action"], e["transition"]) for e in registry.history()] == [
        ("promoted", "run-a/champion_model"),
        ("rejected", "run-b/champion_model"),
    ]
