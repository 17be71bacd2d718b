"""What a finished retraining run tells the world: its events, from the facts its run recorded.

`graph/run_log.py` reads those facts from the Dagster event log; this module is plain code.
"""

from dataclasses import dataclass, field

from mlops_assets.constants import (
    CHAMPION_MODEL,
    TRAINED_MODEL,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)
from mlops_assets.contracts.events import (
    MODEL_EVENTS_QUEUE,
    PIPELINE_FAILED_QUEUE,
    TRAINING_COMPLETED_QUEUE,
    Event,
    ModelPromoted,
    PipelineFailed,
    TrainingCompletedEvent,
    stable_event_id,
)
from mlops_assets.contracts.safe_text import redact
from mlops_assets.contracts.stage_results import GateResult

# The headline figures of each task's verification report (classification, verification).
METRIC_KEYS = (
    *("challenger_accuracy", "champion_accuracy", "latency_p95_ms"),
    *("challenger_tar_at_far", "champion_tar_at_far", "challenger_eer", "champion_eer"),
    "verify_latency_p95_ms",
    # The paired champion/challenger comparison (`PairedSummary.as_metadata`).
    *("paired_n", "paired_b", "paired_c", "paired_difference", "paired_low", "paired_high"),
    *("paired_p_value", "paired_alpha", "paired_minimum_detectable"),
)


@dataclass
class RunFacts:
    """Asset metadata and check results one run recorded, by asset key and check name."""

    materializations: dict[str, dict] = field(default_factory=dict)
    checks: dict[str, tuple[str, bool, dict]] = field(default_factory=dict)


def _version(value) -> str | None:
    return None if value in (None, "none") else str(value)


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def completion_event(
    facts: RunFacts, run_id: str, job_name: str, model_name: str, error: str | None = None
) -> TrainingCompletedEvent | None:
    """Builds the TrainingCompletedEvent of a finished retraining run.

    A run that broke (`error` given) has the outcome `failed`, whatever it had decided before
    breaking; a successful run has the decision `champion_model` settled (promoted, defended,
    rejected). A successful run that decided nothing (a subset stopping before
    `champion_model`) has nothing to announce: None.
    """
    report = facts.materializations.get(VERIFICATION_REPORT, {})
    champion = facts.materializations.get(CHAMPION_MODEL)
    if error is not None:
        outcome = "failed"
        # After a compensated promotion the alias is back on the champion before the month.
        before = champion.get("previous_champion_version") if champion else None
        serving = previous = _version(before or report.get("champion_version"))
    elif champion is not None:
        outcome = champion["decision"]
        serving = _version(champion.get("champion_version"))
        previous = _version(champion.get("previous_champion_version"))
    else:
        return None
    gates = [
        GateResult(
            name=name,
            passed=passed,
            observed=_number(metadata.get("observed")),
            threshold=_number(metadata.get("threshold")),
            reason=str(metadata.get("reason", "")),
        )
        for name, (asset, passed, metadata) in facts.checks.items()
        if asset == VERIFICATION_REPORT
    ]
    challenger = report.get("challenger_version") or facts.materializations.get(
        TRAINED_MODEL, {}
    ).get("model_version")
    return TrainingCompletedEvent(
        event_id=stable_event_id("training-completed", run_id),
        run_id=run_id,
        job_name=job_name,
        outcome=outcome,
        model_name=model_name,
        challenger_version=_version(challenger),
        champion_version=serving,
        previous_champion_version=previous,
        data_version=facts.materializations.get(TRAINING_DATA, {}).get("data_version"),
        metrics={k: float(report[k]) for k in METRIC_KEYS if _number(report.get(k)) is not None},
        gates=gates,
        error=redact(error) if outcome == "failed" and error is not None else None,
    )


def promotion_event(completed: TrainingCompletedEvent) -> ModelPromoted | None:
    """Builds the ModelPromoted event of a run whose outcome is `promoted`, else None."""
    if completed.outcome != "promoted" or completed.champion_version is None:
        return None
    return ModelPromoted(
        event_id=stable_event_id("model-promoted", completed.run_id),
        model_name=completed.model_name,
        version=completed.champion_version,
        previous_version=completed.previous_champion_version,
        reason="; ".join(g.reason for g in completed.gates if g.reason) or "every gate passed",
        run_id=completed.run_id,
    )


def failure_event(run_id: str, job_name: str, error: str) -> PipelineFailed:
    """Builds the PipelineFailed event of a failed run."""
    return PipelineFailed(
        event_id=stable_event_id("pipeline-failed", run_id),
        run_id=run_id,
        job_name=job_name,
        error=redact(error),
    )


def outcome_events(
    facts: RunFacts | None,
    run_id: str,
    job_name: str,
    model_name: str,
    error: str | None = None,
) -> list[tuple[str, Event]]:
    """The events a finished run publishes, each with its queue.

    A retraining run (`facts` given) announces its TrainingCompletedEvent, plus ModelPromoted
    after a promotion. A failed run (`error` given: it broke; a gate saying no never fails a
    run) also announces PipelineFailed.
    """
    events: list[tuple[str, Event]] = []
    completed = (
        None if facts is None else completion_event(facts, run_id, job_name, model_name, error)
    )
    if completed is not None:
        events.append((TRAINING_COMPLETED_QUEUE, completed))
        promoted = promotion_event(completed)
        if promoted is not None:
            events.append((MODEL_EVENTS_QUEUE, promoted))
    if error is not None:
        events.append((PIPELINE_FAILED_QUEUE, failure_event(run_id, job_name, error)))
    return events
