"""Where a run's steps execute: in the run's own process, or on Celery workers over the broker.

`definitions.py` picks one with MLOPS_EXECUTOR; `make stack` starts the workers with the same
Celery configuration (`worker_config`), so the executor and the workers agree on broker, backend
and queues.
"""

import dagster as dg
from dagster_celery import celery_executor


def celery_config(broker: str | dict, backend: str, queue: str) -> dict:
    """The `dagster-celery` executor config, also the `execution.config` of a worker's YAML.

    Args:
        broker: the Celery broker URL (RabbitMQ), or `{"env": VARIABLE}` to read it at run
            start.
        backend: the Celery result backend URL.
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
            "broker_connection_retry_on_startup": True,
        },
    }


def worker_config(broker: str, backend: str, queue: str) -> dict:
    """The YAML document `dagster-celery worker start -y` reads."""
    return {"execution": {"config": celery_config(broker, backend, queue)}}


def step_executor(
    kind: str, broker: str | dict | None, backend: str, queue: str
) -> dg.ExecutorDefinition:
    """The executor of every asset job: `in_process` or `celery` (each step a Celery task)."""
    if kind == "in_process":
        return dg.in_process_executor
    if broker is None:
        raise ValueError("the celery executor needs a broker URL (RABBITMQ_URL)")
    return celery_executor.configured(celery_config(broker, backend, queue), name="celery")
