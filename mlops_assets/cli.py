"""Command line: `mlops-assets demo | seed-demo | publish-demo-events | dead-letters`."""

import argparse
import logging
import os

import dagster as dg

from mlops_assets.definitions import build_definitions, build_resources
from mlops_assets.demo_source import demo_tasks
from mlops_assets.events import TASK_CONFIRMED_QUEUE, InvalidEvent, TaskConfirmedEvent, parse_event
from mlops_assets.replication import replicate
from mlops_assets.run_events import run_outcome_events, step_errors
from mlops_assets.sensors import publish_all
from mlops_assets.settings import Settings

log = logging.getLogger("mlops_assets")


def publish_demo_events(settings: Settings) -> int:
    """Publishes the demo's confirmed tasks as TaskConfirmedEvents, as the Helper service would."""
    queue = build_resources(settings)["event_queue"]
    events = [TaskConfirmedEvent.from_record(record) for record in demo_tasks()]
    queue.publish(TASK_CONFIRMED_QUEUE, events)
    log.info(
        "published %d TaskConfirmedEvents to %s",
        len(events),
        queue.queue_name(TASK_CONFIRMED_QUEUE),
    )
    queue.close()
    return len(events)


def seed_demo(settings: Settings) -> int:
    """Fills the training data store through the event path: publish, then replicate."""
    publish_demo_events(settings)
    resources = build_resources(settings)
    store, queue = resources["data_store"], resources["event_queue"]
    drained = replicate(queue, store, max_messages=10**9, max_seconds=600)
    log.info("data store %s: %s; %d records in all", store.url, drained.summary(), store.count())
    queue.close()
    store.close()
    return drained.inserted


def show_dead_letters(settings: Settings, limit: int = 20) -> int:
    """Logs the newest dead-lettered task events with the reason each was set aside."""
    queue = build_resources(settings)["event_queue"]
    letters = queue.dead_letters(TASK_CONFIRMED_QUEUE, limit)
    for letter in letters:
        try:
            parse_event(letter.body, TaskConfirmedEvent)
            reason = letter.reason
        except InvalidEvent as error:
            reason = error.reason
        log.info("dead letter (%s): %s | %r", letter.reason, reason, letter.body[:200])
    log.info("%d dead-lettered task events shown (limit %d)", len(letters), limit)
    queue.close()
    return len(letters)


def run_retraining(settings: Settings) -> dg.ExecuteInProcessResult:
    """Runs `retrain_job` on the Dagster instance under DAGSTER_HOME (visible in `dagster dev`)."""
    job = build_definitions(settings).get_job_def("retrain_job")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        announce(settings, instance, result)
        return result


def announce(
    settings: Settings, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult
) -> None:
    """Publishes the run's outcome events, as the run-status sensors do under the daemon.

    An in-process run has no daemon watching it; if one runs too, consumers see the same
    event ids twice and keep one.
    """
    resources = build_resources(settings)
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        error = step_errors(failures, "run failed")
    events = run_outcome_events(
        instance, result.run_id, result.job_def.name, resources["model_registry"].model_name, error
    )
    publish_all(resources["event_queue"], events)
    resources["event_queue"].close()
    for queue, event in events:
        log.info("published %s to %s", type(event).__name__, queue)


def demo(settings: Settings) -> int:
    seed_demo(settings)
    result = run_retraining(settings)
    registry = build_resources(settings)["model_registry"]
    champion = registry.champion()
    log.info("retrain_job run %s: %s", result.run_id, "success" if result.success else "FAILED")
    if champion is None:
        log.error("no champion in the registry: see the run's logs with `make dev`")
        return 1
    log.info("champion: %s v%s (%s)", champion.name, champion.version, registry.tracking_uri)
    log.info("look at it: `make dev` -> http://127.0.0.1:3000 (Dagster), `make mlflow-ui`")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    parser.add_argument(
        "command", choices=["demo", "seed-demo", "publish-demo-events", "dead-letters"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if "DAGSTER_HOME" not in os.environ:
        parser.error("DAGSTER_HOME is not set: run through `make demo` or export DAGSTER_HOME")
    settings = Settings()
    if args.command == "seed-demo":
        seed_demo(settings)
        return 0
    if args.command == "publish-demo-events":
        publish_demo_events(settings)
        return 0
    if args.command == "dead-letters":
        show_dead_letters(settings)
        return 0
    return demo(settings)


if __name__ == "__main__":
    raise SystemExit(main())
