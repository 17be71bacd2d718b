"""Run outcomes: the events a finished run publishes, from the facts it recorded."""

from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    PIPELINE_FAILED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
)
from mlops_assets.retraining.outcomes import (
    RunFacts,
    completion_event,
    outcome_events,
    promotion_event,
)

REPORT = {
    "decision": "defended",
    "challenger_version": "3",
    "champion_version": "1",
    "challenger_accuracy": 0.95,
    "champion_accuracy": 0.96,
    "latency_p95_ms": 0.8,
}
GATE = ("verification_report", False, {"observed": 0.95, "threshold": 0.96, "reason": "short"})


def champion(decision: str, serving: str, previous: str, moved: bool = False) -> dict:
    return {
        "decision": decision,
        "champion_version": serving,
        "previous_champion_version": previous,
        "alias_moved": moved,
    }


def test_completion_event_names_each_outcome():
    facts = RunFacts(
        {"verification_report": REPORT, "champion_model": champion("defended", "1", "1")},
        {"not_worse_than_champion": GATE},
    )
    defended = completion_event(facts, "run-1", "retrain_job", "m")
    assert defended.outcome == "defended" and defended.champion_version == "1"
    assert defended.challenger_version == "3" and defended.metrics["champion_accuracy"] == 0.96
    assert defended.gates[0].name == "not_worse_than_champion"
    assert not defended.gates[0].passed and promotion_event(defended) is None

    rejected = RunFacts(
        {
            "verification_report": {**REPORT, "decision": "rejected"},
            "champion_model": champion("rejected", "1", "1"),
        }
    )
    assert completion_event(rejected, "run-2", "retrain_job", "m").outcome == "rejected"

    promoted = RunFacts(
        {
            "verification_report": {**REPORT, "decision": "promoted"},
            "champion_model": champion("promoted", "3", "1", moved=True),
        }
    )
    event = completion_event(promoted, "run-3", "retrain_job", "m")
    assert (event.outcome, event.champion_version, event.previous_champion_version) == (
        "promoted",
        "3",
        "1",
    )
    assert promotion_event(event).version == "3"
    assert promotion_event(event).event_id == promotion_event(event).event_id

    # A re-run of an old month whose gates passed while a later champion serves.
    rerun = RunFacts(
        {
            "verification_report": {**REPORT, "decision": "promoted"},
            "champion_model": champion("defended", "5", "5"),
        }
    )
    kept = completion_event(rerun, "run-5", "retrain_job", "m")
    assert (kept.outcome, kept.champion_version) == ("defended", "5")
    assert promotion_event(kept) is None

    broken = completion_event(RunFacts(), "run-4", "retrain_job", "m", error="boom")
    assert broken.outcome == "failed" and broken.error == "boom"

    # Deployment broke after the promotion: compensated, the run failed, v1 serves again.
    compensated = completion_event(promoted, "run-6", "retrain_job", "m", error="refused")
    assert (compensated.outcome, compensated.champion_version) == ("failed", "1")

    # A successful subset that stopped before champion_model decided nothing.
    assert completion_event(RunFacts({"verification_report": REPORT}), "r", "j", "m") is None


def test_outcome_events_by_kind_of_run():
    promoted = RunFacts(
        {
            "verification_report": {**REPORT, "decision": "promoted"},
            "champion_model": champion("promoted", "3", "1", moved=True),
        }
    )
    queues = [q for q, _ in outcome_events(promoted, "run-1", "retrain_job", "m")]
    assert queues == [TRAINING_COMPLETED_QUEUE, MODEL_EVENTS_QUEUE]

    defended = RunFacts(
        {"verification_report": REPORT, "champion_model": champion("defended", "1", "1")},
        {"not_worse_than_champion": GATE},
    )
    queues = [q for q, _ in outcome_events(defended, "run-2", "retrain_job", "m")]
    assert queues == [TRAINING_COMPLETED_QUEUE]

    broken = [q for q, _ in outcome_events(RunFacts(), "run-3", "retrain_job", "m", "boom")]
    assert broken == [TRAINING_COMPLETED_QUEUE, PIPELINE_FAILED_QUEUE]

    # Any failed run broke (gates never fail a run), even one that had promoted first.
    compensated = outcome_events(promoted, "run-6", "retrain_job", "m", "refused")
    assert [q for q, _ in compensated] == [TRAINING_COMPLETED_QUEUE, PIPELINE_FAILED_QUEUE]

    other_job = outcome_events(None, "run-4", "rollback_champion_job", "m", "boom")
    assert [q for q, _ in other_job] == [PIPELINE_FAILED_QUEUE]
    assert outcome_events(None, "run-5", "rollback_champion_job", "m") == []


def test_failure_events_carry_the_error_redacted_item4():
    """Issue 26, item 4: a tracking URI's password in a step error reached PipelineFailed."""
    error = "trained_model: MlflowException: API request to http://mlops:s3cret@mlflow:5000 failed"
    events = dict(outcome_events(RunFacts(), "run-4", "retrain_job", "m", error))
    failed, completed = events[PIPELINE_FAILED_QUEUE], events[TRAINING_COMPLETED_QUEUE]
    assert "s3cret" not in failed.error and "mlops:***@mlflow" in failed.error
    assert "s3cret" not in completed.error


def test_completion_event_carries_the_paired_comparison():
    paired = {
        "paired_n": 150,
        "paired_b": 2,
        "paired_c": 1,
        "paired_difference": 0.0067,
        "paired_low": -0.021,
        "paired_high": 0.035,
        "paired_p_value": 0.5,
        "paired_alpha": 0.05,
        "paired_minimum_detectable": "none",
        "paired_reason": "not shown better: challenger +0.7 points",
    }
    reason = "not shown better: challenger +0.7 points, p = 0.50 at n = 150 (b = 2, c = 1)"
    facts = RunFacts(
        {
            "verification_report": {**REPORT, **paired},
            "champion_model": champion("defended", "1", "1"),
        },
        {
            "not_worse_than_champion_gate": (
                "verification_report",
                False,
                {"observed": 0.5, "threshold": 0.05, "reason": reason},
            )
        },
    )
    event = completion_event(facts, "run-9", "retrain_job", "m")
    assert {k: v for k, v in event.metrics.items() if k.startswith("paired_")} == {
        "paired_n": 150,
        "paired_b": 2,
        "paired_c": 1,
        "paired_difference": 0.0067,
        "paired_low": -0.021,
        "paired_high": 0.035,
        "paired_p_value": 0.5,
        "paired_alpha": 0.05,
    }
    assert event.gates[0].reason == reason and event.gates[0].observed == 0.5
