"""Where a run's steps execute: in the run's own process, or on Celery workers over the broker.

`definitions.py` picks one with MLOPS_EXECUTOR; `make stack` starts the workers with the same
Celery configuration (`worker_config`), so the executor and the workers agree on broker, backend
and queues. The workers run the app in `celery_worker.py`.
"""

import warnings

import dagster as dg
from celery.exceptions import DuplicateTaskNameWarning
from dagster._core.execution.retries import RetryMode
from dagster_celery import celery_executor
from dagster_celery.executor import CeleryExecutor

from mlops_assets.graph.step_values import run_stamp

# dagster-celery registers its step task again for every step it submits (the same function);
# Celery warns about each one, several times a run.
warnings.filterwarnings("ignore", category=DuplicateTaskNameWarning)

# How long a run keeps trying to hand a step to a broker that is away (a RabbitMQ restart):
# 60 tries, one to five seconds apart, about four minutes.
PUBLISH_RETRY_POLICY = {
    "max_retries": 60,
    "interval_start": 1,
    "interval_step": 1,
    "interval_max": 5,
}


def celery_config(broker: str | dict, backend: str | dict, queue: str) -> dict:
    """The `dagster-celery` executor config, also the `execution.config` of a worker's YAML.

    Args:
        broker: the Celery broker URL (RabbitMQ), or `{"env": VARIABLE}` to read it at run
            start.
        backend: the Celery result backend URL (or `{"env": VARIABLE}`); one that outlives a
            broker restart (a database, Redis), not rpc://.
        queue: the queue of every step without a `dagster-celery/queue` tag.
    """
    return {
        "broker": broker,
        "backend": backend,
        "config_source": {
            "task_default_queue": queue,
            # A step's message is acknowledged when the step ends, not when a worker takes it:
            # a worker that dies mid-step hands the step back to the queue for another worker.
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            # A broker restart does the same for a step in progress: the worker stops it (its
            # acknowledgement could not arrive any more) and takes it again from the queue.
            "worker_cancel_long_running_tasks_on_connection_loss": True,
            "broker_connection_retry_on_startup": True,
            "task_publish_retry_policy": PUBLISH_RETRY_POLICY,
            "database_short_lived_sessions": True,
            # Celery would replace the worker's stdout and stderr with a logger that has no
            # file descriptor; Dagster then captures nothing of a step's output, and the step
            # logs in S3 (S3ComputeLogManager) stay empty.
            "worker_redirect_stdouts": False,
        },
    }


def worker_config(broker: str, backend: str, queue: str) -> dict:
    """The YAML document `dagster-celery worker start -y` reads."""
    return {"execution": {"config": celery_config(broker, backend, queue)}}


class StampingCeleryExecutor(CeleryExecutor):
    """`dagster-celery`'s executor that first tags the run with where step values go and the
    code version (`step_values.run_stamp`), so each worker checks it was started alike."""

    def __init__(self, step_values: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.step_values = step_values

    def execute(self, plan_context, execution_plan):
        plan_context.instance.add_run_tags(plan_context.run_id, run_stamp(self.step_values))
        return super().execute(plan_context, execution_plan)


def stamping_celery_executor(step_values: str) -> dg.ExecutorDefinition:
    """`celery_executor` (same name and config schema) built as a `StampingCeleryExecutor`."""

    @dg.executor(
        name="celery",
        config_schema=celery_executor.config_schema,
        requirements=dg.multiple_process_executor_requirements(),
    )
    def stamped(init_context: dg.InitExecutorContext) -> StampingCeleryExecutor:
        config = init_context.executor_config
        return StampingCeleryExecutor(
            step_values,
            broker=config.get("broker"),
            backend=config.get("backend"),
            config_source=config.get("config_source"),
            include=config.get("include"),
            retries=RetryMode.from_config(config["retries"]),
        )

    return stamped


def step_executor(
    kind: str, broker: str | dict | None, backend: str | dict, queue: str, step_values: str
) -> dg.ExecutorDefinition:
    """The executor of every asset job: `in_process` or `celery` (each step a Celery task).

    `step_values` says where the steps' IO manager keeps values (`step_values.FILESYSTEM` or
    an s3:// URL); Celery runs carry it as a tag for their workers to check.
    """
    if kind == "in_process":
        return dg.in_process_executor
    if broker is None:
        raise ValueError("the celery executor needs a broker URL (RABBITMQ_URL)")
    return stamping_celery_executor(step_values).configured(
        celery_config(broker, backend, queue), name="celery"
    )
