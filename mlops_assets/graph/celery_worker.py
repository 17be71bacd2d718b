"""The Celery app the step workers run (`dagster-celery worker start -A` names this module).

It is `dagster-celery`'s own app with one guard on the step task. A step's message is
acknowledged only when the step ends (`execution.celery_config`). When the broker goes away
after a step finished but before its acknowledgement arrived, the broker hands the message out
again, and `dagster-celery` would run the finished step a second time: a second challenger
registered, the step's output rewritten under the steps that already read it. The guard looks
a redelivered step up in the run's event log and drops it when it already succeeded; and a step
its own worker stopped (a lost broker connection) is handed back, not reported as failed.
"""

import logging

import celery
from celery.exceptions import Ignore
from dagster import DagsterEventType, DagsterExecutionInterruptedError, DagsterInstance
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import unpack_value
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

log = logging.getLogger(__name__)


def already_succeeded(instance: DagsterInstance, run_id: str, step_keys: list[str]) -> bool:
    """Whether every one of `step_keys` already succeeded in the run (its event log says so)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS)
    succeeded = {record.event_log_entry.step_key for record in records.records}
    return bool(step_keys) and set(step_keys) <= succeeded


class RunsEachStepOnce(celery.Task):
    """The step task; a redelivered message of a step that succeeded is acknowledged and
    dropped (the run already has the step's result from the result backend)."""

    def __call__(self, execute_step_args_packed: dict, executable_dict: dict):
        if self.request.delivery_info.get("redelivered"):
            args = unpack_value(execute_step_args_packed, as_type=ExecuteStepArgs)
            steps = list(args.step_keys_to_execute or [])
            with DagsterInstance.from_ref(args.instance_ref) as instance:
                done = already_succeeded(instance, args.run_id, steps)
            if done:
                log.warning(
                    "dropped a redelivered message: step %s of run %s already succeeded",
                    ", ".join(steps),
                    args.run_id,
                )
                raise Ignore()
        try:
            return super().__call__(execute_step_args_packed, executable_dict)
        except DagsterExecutionInterruptedError as interrupted:
            # The worker itself stopped the step (its broker connection was lost, or it shuts
            # down cold): no step failure to report, the message goes back to the queue and
            # the step runs again. Celery records no result for a task that exits.
            raise SystemExit("step interrupted by its worker; it runs again") from interrupted


app = make_app()

execute_plan = create_task(app, base=RunsEachStepOnce)

execute_job = create_execute_job_task(app)

resume_job = create_resume_job_task(app)
