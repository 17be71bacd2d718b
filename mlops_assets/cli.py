"""Command line: `mlops-assets demo | seed-demo | publish-demo-events | dead-letters | rollback |
health`.

The heavy imports (dagster and TensorFlow through the definitions, MLflow) happen inside the
commands that need them, so `rollback` imports neither dagster nor TensorFlow and starts in about
the time it takes to import MLflow.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

    from mlops_assets.demo_source import Scenario
    from mlops_assets.queues.base import EventQueue

log = logging.getLogger("mlops_assets")


def publish_demo_events(settings: Settings) -> int:
    """Publishes the demo's confirmed tasks as TaskConfirmedEvents, as the Helper service would."""
    from mlops_assets.definitions import build_resources
    from mlops_assets.demo_source import demo_tasks
    from mlops_assets.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent

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


def deliver_through_events(queue, store, records) -> int:
    """Publishes records as TaskConfirmedEvents, then replicates them as task_events_sensor does.

    Returns:
        How many records were new to the store.
    """
    from mlops_assets.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent
    from mlops_assets.replication import replicate

    queue.publish(TASK_CONFIRMED_QUEUE, [TaskConfirmedEvent.from_record(r) for r in records])
    return replicate(queue, store, max_messages=10**9, max_seconds=600).inserted


def seed_demo(settings: Settings) -> int:
    """Fills the training data store through the event path: publish, then replicate."""
    from mlops_assets.definitions import build_resources
    from mlops_assets.demo_source import demo_tasks

    resources = build_resources(settings)
    store, queue = resources["data_store"], resources["event_queue"]
    added = deliver_through_events(queue, store, demo_tasks())
    log.info("data store %s: %d new records, %d in all", store.url, added, store.count())
    queue.close()
    store.close()
    return added


def show_dead_letters(settings: Settings, limit: int = 20) -> int:
    """Logs the oldest dead-lettered task events with the reason each was set aside."""
    from mlops_assets.definitions import build_resources
    from mlops_assets.events import (
        TASK_CONFIRMED_QUEUE,
        InvalidEvent,
        TaskConfirmedEvent,
        parse_event,
    )

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


def _reset_embedded_state(settings: Settings) -> None:
    """Starts the demo from an empty data store and registry (embedded defaults only)."""
    if settings.data_store_url or settings.tracking_uri:
        log.warning("demo against configured backends: nothing is reset, results accumulate")
        return
    home = settings.home_dir
    for name in ("training_data.db", "mlflow.db"):
        for path in home.glob(f"{name}*"):
            path.unlink()
    shutil.rmtree(home / "mlartifacts", ignore_errors=True)
    # Events left on the embedded queue would otherwise arrive in the replay's first month.
    if not settings.rabbitmq_url:
        for path in home.glob("events.db*"):
            path.unlink()


def _publish_report(
    settings: Settings, instance: dg.DagsterInstance, results, scenario: Scenario
) -> Path:
    import dagster as dg
    from mlflow.tracking import MlflowClient

    from mlops_assets import replay

    folder = settings.home_dir / "replay"
    folder.mkdir(parents=True, exist_ok=True)
    png = replay.accuracy_plot_png(results, scenario)
    (folder / "accuracy.png").write_bytes(png)
    (folder / "report.md").write_text(replay.report_markdown(results, scenario, "accuracy.png"))
    (folder / "results.json").write_text(
        json.dumps(replay.results_as_dicts(results), indent=2) + "\n"
    )
    client = MlflowClient(settings.resolved_tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    run = client.create_run(experiment.experiment_id, run_name="replay-report")
    for name in ("report.md", "accuracy.png", "results.json"):
        client.log_artifact(run.info.run_id, str(folder / name), "replay")
    client.set_terminated(run.info.run_id)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=replay.REPLAY_REPORT,
            metadata={
                "summary": dg.MetadataValue.json(replay.summary(results)),
                "table": dg.MetadataValue.md(replay.table_markdown(results)),
                "accuracy_plot": dg.MetadataValue.md(
                    f"![accuracy](data:image/png;base64,{base64.b64encode(png).decode()})"
                ),
                "report": dg.MetadataValue.path(str(folder / "report.md")),
                "mlflow_run": dg.MetadataValue.url(
                    f"{settings.mlflow_ui_url.rstrip('/')}/#/experiments/"
                    f"{experiment.experiment_id}/runs/{run.info.run_id}"
                ),
            },
        )
    )
    return folder


def demo(settings: Settings) -> int:
    """Replays two years month by month on embedded defaults and reports who won."""
    import dagster as dg

    from mlops_assets import replay
    from mlops_assets.definitions import build_definitions, build_resources
    from mlops_assets.demo_source import Scenario

    _reset_embedded_state(settings)
    scenario = Scenario()
    resources = build_resources(settings)
    store, registry = resources["data_store"], resources["model_registry"]
    queue = resources["event_queue"]
    job = build_definitions(settings).resolve_job_def("retrain_job")
    with dg.DagsterInstance.get() as instance:
        results = replay.run_replay(
            job,
            instance,
            scenario,
            deliver=lambda records: deliver_through_events(queue, store, records),
            champion_version=lambda: c.version if (c := registry.champion()) else None,
            run_config={
                "ops": {"verification_report": {"config": {"min_improvement": 0.005}}},
                # Per-step logs stay in the Dagster UI; the terminal shows one line a month.
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
        )
        folder = _publish_report(settings, instance, results, scenario)
    queue.close()
    store.close()
    totals = replay.summary(results)
    sys.stdout.write(
        f"{replay.table_markdown(results)}\n\n{totals}\n"
        f"report: {folder / 'report.md'} (plot: {folder / 'accuracy.png'})\n"
        "look at it: `make dev` -> http://127.0.0.1:3000 (Dagster), `make mlflow-ui`\n"
    )
    return 0 if totals["final_champion"] else 1


def check_health(settings: Settings) -> int:
    """Prints each configured backend and whether it answers; 1 if any does not."""
    from mlops_assets import health

    logging.getLogger("botocore").setLevel(logging.WARNING)
    results = health.check_all(settings)
    sys.stdout.write(health.render(results) + "\n")
    return 0 if all(r.ok for r in results) else 1


def rollback(settings: Settings, reason: str) -> int:
    """Moves @champion back to the version it replaced and waits for the server to serve it.

    The same use case as `rollback_champion_job`, without dagster or the Definitions: those import
    TensorFlow (seconds), and a rollback should take well under two seconds.
    """
    from mlops_assets.registry_client import RegistryClient
    from mlops_assets.rollback import roll_back_champion
    from mlops_assets.serving.client import InferenceServer

    started = time.perf_counter()
    registry = RegistryClient(
        settings.resolved_tracking_uri, settings.model_name, settings.mlflow_ui_url
    )
    server = InferenceServer(
        settings.serving_url, settings.serving_timeout_s, settings.serving_admin_token
    )
    queue = _event_queue(settings)
    try:
        moved = roll_back_champion(registry, server, queue, reason, log)
    except ValueError as error:
        log.error("%s", error)
        return 1
    finally:
        queue.close()
    if moved.server_following is None:
        log.info("no inference server configured (MLOPS_SERVING_URL): servers follow by polling")
    elif moved.server_following:
        log.info("%s serves v%s", settings.serving_url, moved.version)
    log.info(
        "rollback v%s -> v%s took %.2f s",
        moved.previous_version,
        moved.version,
        time.perf_counter() - started,
    )
    return 0 if moved.server_following is not False else 1


def _event_queue(settings: Settings) -> EventQueue:
    """The queue `definitions.build_event_queue` chooses, as a plain object (no dagster)."""
    from mlops_assets.queues.choose import choose_queue

    return choose_queue(
        settings.rabbitmq_url,
        str(settings.resolved_event_queue_path),
        settings.event_queue_prefix,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    parser.add_argument(
        "command",
        choices=["demo", "seed-demo", "publish-demo-events", "dead-letters", "rollback", "health"],
    )
    parser.add_argument(
        "--reason", default="rollback on demand", help="rollback: why, kept in the history"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "rollback":
        return rollback(Settings(), args.reason)
    # Only here: every other command builds Dagster resources, and a rollback must not wait for
    # dagster's import.
    import dagster as dg

    # Dagster flags the dagster-mlflow resource and partitioned checks as beta/preview; the
    # terminal is for the pipeline's own progress.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    if args.command == "health":
        return check_health(Settings())
    if "DAGSTER_HOME" not in os.environ:
        parser.error("DAGSTER_HOME is not set: run through `make demo` or export DAGSTER_HOME")
    settings = Settings()
    if args.command == "publish-demo-events":
        publish_demo_events(settings)
        return 0
    if args.command == "dead-letters":
        show_dead_letters(settings)
        return 0
    if args.command == "seed-demo":
        seed_demo(settings)
        return 0
    return demo(settings)


if __name__ == "__main__":
    raise SystemExit(main())
