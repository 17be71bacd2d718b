"""Reading a finished run from the Dagster event log: what its assets and checks recorded."""

import dagster as dg

from mlops_assets.contracts.safe_text import redact
from mlops_assets.retraining.outcomes import RunFacts


def run_facts(instance: dg.DagsterInstance, run_id: str) -> RunFacts:
    """Reads a run's asset materializations and check evaluations from the event log.

    A run retrains one model, so its facts are keyed by stage (`training_data`, the last part
    of `<model>/training_data`) and by check name.
    """
    facts = RunFacts()
    records = instance.get_records_for_run(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        },
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = data.materialization
            facts.materializations[materialization.asset_key.path[-1]] = {
                k: v.value for k, v in materialization.metadata.items()
            }
        else:
            metadata = {k: v.value for k, v in data.metadata.items()}
            facts.checks[data.check_name] = (
                data.asset_key.path[-1],
                data.passed,
                metadata,
            )
    return facts


def root_cause(error) -> str:
    """What a person needs to read of a step's error: the first `dg.Failure` in its cause chain
    (a message written for them), else the error at the bottom of the chain (what the step
    raised, under Dagster's "Error occurred while executing op …" and retry wrappers)."""
    while error.cls_name != "Failure" and error.cause is not None:
        error = error.cause
    return error.message.strip()


def step_errors(step_failures: list[dg.DagsterEvent], fallback: str) -> str:
    """Summarises a failed run's step failures as one line per step, each with its root cause,
    secrets redacted (the text goes to the event, the alert and the logs)."""
    steps = [
        f"{e.step_key}: {root_cause(e.event_specific_data.error)}"
        for e in step_failures
        if e.event_specific_data is not None and e.event_specific_data.error is not None
    ]
    return redact("; ".join(steps) or fallback)
