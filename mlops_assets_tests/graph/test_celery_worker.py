"""The workers' Celery app: dagster-celery's step task, run at most once per succeeded step.

The redelivery itself (a broker restart mid-run) is exercised end to end in
`test_execution.py::test_a_broker_restart_mid_training_loses_no_run`."""

import dagster as dg
from dagster_celery.config import TASK_EXECUTE_PLAN_NAME

from mlops_assets.graph.celery_worker import RunsEachStepOnce, already_succeeded, app
from mlops_assets.tools.processes import celery_worker_command


@dg.asset
def fine() -> int:
    return 1


@dg.asset
def broken() -> int:
    raise RuntimeError("this step fails")


def test_only_steps_that_succeeded_in_that_run_count_as_done():
    with dg.instance_for_test() as instance:
        result = dg.materialize([fine, broken], instance=instance, raise_on_error=False)
        assert already_succeeded(instance, result.run_id, ["fine"])
        assert not already_succeeded(instance, result.run_id, ["broken"])
        assert not already_succeeded(instance, result.run_id, ["fine", "broken"])
        assert not already_succeeded(instance, result.run_id, [])
        other = dg.materialize([broken], instance=instance, raise_on_error=False)
        assert not already_succeeded(instance, other.run_id, ["fine"])


def test_workers_run_the_guarded_step_task():
    assert isinstance(app.tasks[TASK_EXECUTE_PLAN_NAME], RunsEachStepOnce)
    command = celery_worker_command("celery.yaml", ["training"], "gpu-1")
    assert command[command.index("-A") + 1] == "mlops_assets.graph.celery_worker"
