"""Run-status sensors of the fleet: announce how every retraining run ended and alert when a run
broke. One pair serves every model: a run's job names its model (`ModelNames`)."""

import logging
from collections.abc import Sequence

import dagster as dg

from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.contracts.events import Event
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.run_log import run_facts, step_errors
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.retraining import alerts as alert_rules
from mlops_assets.retraining.outcomes import outcome_events

log = logging.getLogger(__name__)


def publish_all(queue: EventQueue, events: list[tuple[str, Event]]) -> None:
    """Publishes (queue name, event) pairs, each durably before the next."""
    for name, event in events:
        queue.publish(name, [event])


def retraining_model(run: dg.DagsterRun, models: Sequence[ModelSpec]) -> ModelSpec | None:
    """The model a run retrains: by its job (`<model>_retrain_job`), or, for a run of the
    implicit asset job (the automation sensors', the UI asset page's), by the one model whose
    `champion_model` it selects. None for any other run."""
    for model in models:
        if run.job_name == ModelNames(model.name).retrain_job:
            return model
    selected = run.asset_selection or frozenset()
    chosen = [m for m in models if ModelNames(m.name).champion_model in selected]
    return chosen[0] if len(chosen) == 1 else None


def _outcome_events(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    models: Sequence[ModelSpec],
    error: str | None = None,
) -> list[tuple[str, Event]]:
    # Only a retraining run has a decision to announce; any failed run announces its failure.
    model = retraining_model(run, models)
    model_name = model.registry_name if model is not None else None
    facts = run_facts(instance, run.run_id) if model_name is not None else None
    return outcome_events(facts, run.run_id, run.job_name, model_name or "", error)


def run_outcome_sensors(models: Sequence[ModelSpec]) -> list[dg.SensorDefinition]:
    """Builds `training_completed_sensor` (every model's retraining runs, whichever job: the
    retrain job, or the implicit asset job the automation sensors launch) and
    `pipeline_failure_sensor` (every failed run)."""

    @dg.run_status_sensor(
        name="training_completed_sensor",
        run_status=dg.DagsterRunStatus.SUCCESS,
        # Every job of the code location: a run of the implicit asset job is a retraining run
        # when it selects one model's chain (`retraining_model`); other runs announce nothing.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Publishes TrainingCompletedEvent (and ModelPromoted) when a model's "
        "retraining job succeeds.",
    )
    def training_completed_sensor(
        context: dg.RunStatusSensorContext, event_queue: EventQueueResource
    ) -> None:
        run = context.dagster_run
        events = _outcome_events(context.instance, run, models)
        # Raising here fails the tick, so the cursor stays and the next tick publishes again
        # (with the same event ids, which consumers dedupe).
        publish_all(event_queue.get_client(), events)
        names = ", ".join(type(e).__name__ for _, e in events) or "nothing (no decision)"
        context.log.info(f"run {run.run_id}: published {names}")

    @dg.run_failure_sensor(
        name="pipeline_failure_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Publishes PipelineFailed and sends an alert when a run fails after its "
        "retries (it broke: a gate saying no is a successful run); for a retraining job also "
        "the TrainingCompletedEvent (failed).",
    )
    def pipeline_failure_sensor(
        context: dg.RunFailureSensorContext,
        event_queue: EventQueueResource,
        alerts: AlertsResource,
    ) -> None:
        run = context.dagster_run
        error = step_errors(
            context.get_step_failure_events(), context.failure_event.message or "run failed"
        )
        publish_all(
            event_queue.get_client(),
            _outcome_events(context.instance, run, models, error),
        )
        instance = context.instance
        default_retries = instance.run_retries_max_retries if instance.run_retries_enabled else 0
        if alert_rules.will_be_retried(run.tags, default_retries):
            context.log.info(f"run {run.run_id} failed and will be retried: no alert yet")
            return
        alert = f"ALERT pipeline failed: job {run.job_name} run {run.run_id}: {error[:500]}"
        context.log.error(alert)
        log.error(alert)
        attempt = int(run.tags.get(alert_rules.RETRY_NUMBER_TAG, 0))
        # Raising fails the tick and the next tick sends again; the dedup key stops a double
        # page.
        alerts.get_client().send(alert_rules.run_failed(run.job_name, run.run_id, error, attempt))

    return [training_completed_sensor, pipeline_failure_sensor]
