"""Command line: `mlops-assets demo | seed-demo | publish-demo-events | dead-letters [--requeue
[--reason-contains TEXT]] | rollback | health | runs [--watch]`.

The demo's commands live in `mlops_assets.demo.commands`. The heavy imports (dagster and
TensorFlow through the definitions, MLflow) happen inside the commands that need them, so
`rollback` imports neither dagster nor TensorFlow and starts in about the time it takes to import
MLflow.
"""

import argparse
import contextlib
import logging
import os
import sys
import time
import warnings

from mlops_assets.settings import Settings

log = logging.getLogger("mlops_assets")


def show_dead_letters(settings: Settings, limit: int = 20) -> int:
    """Logs the oldest dead-lettered task events with the reason each was set aside."""
    from mlops_assets.backends import factory
    from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE

    queue = factory.event_queue(settings)
    try:
        letters = queue.dead_letters(TASK_CONFIRMED_QUEUE, limit)
    finally:
        queue.close()
    for letter in letters:
        log.info("dead letter: %s | %r", letter.reason, letter.body[:200])
    log.info("%d dead-lettered task events shown (limit %d)", len(letters), limit)
    return len(letters)


def requeue_dead_letters(settings: Settings, reason_contains: str | None) -> int:
    """Moves dead-lettered task events back onto `task.confirmed` (after a producer is fixed)."""
    from mlops_assets.backends import factory
    from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE

    queue = factory.event_queue(settings)
    try:
        moved = queue.requeue_dead_letters(TASK_CONFIRMED_QUEUE, reason_contains)
    finally:
        queue.close()
    which = "" if reason_contains is None else f" whose reason contains {reason_contains!r}"
    log.info("moved %d dead-lettered task events%s back onto the queue", moved, which)
    return moved


def check_health(settings: Settings) -> int:
    """Prints each configured backend and whether it answers; 1 if any does not."""
    from mlops_assets.tools import health

    results = health.check_all(settings)
    sys.stdout.write(health.render(results) + "\n")
    return 0 if all(r.ok for r in results) else 1


def rollback(settings: Settings, reason: str) -> int:
    """Moves @champion back to the version it replaced and waits for the server to serve it.

    The same use case as `rollback_champion_job`, without dagster or the Definitions: those import
    TensorFlow (seconds), and a rollback should take well under two seconds.
    """
    from mlops_assets.backends import factory
    from mlops_assets.retraining.rollback import roll_back_champion

    started = time.perf_counter()
    queue = factory.event_queue(settings)
    try:
        moved = roll_back_champion(
            factory.registry(settings),
            factory.inference_client(settings),
            queue,
            reason,
            log,
            notifier=factory.notifier(settings),
        )
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


@contextlib.contextmanager
def stderr_silenced():
    """Sends file descriptor 2 to /dev/null for the block (output of C++ code included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    parser.add_argument(
        "command",
        choices=[
            "demo",
            "seed-demo",
            "publish-demo-events",
            "dead-letters",
            "rollback",
            "health",
            "runs",
        ],
    )
    parser.add_argument(
        "--reason", default="rollback on demand", help="rollback: why, kept in the history"
    )
    parser.add_argument(
        "--requeue",
        action="store_true",
        help="dead-letters: move the dead letters back onto the queue (after fixing a producer)",
    )
    parser.add_argument(
        "--reason-contains",
        metavar="TEXT",
        help="dead-letters --requeue: only the letters whose reason contains TEXT",
    )
    parser.add_argument(
        "--watch", action="store_true", help="runs: redraw every --interval seconds until Ctrl-C"
    )
    parser.add_argument("--interval", type=float, default=1.5, help="runs --watch: seconds")
    parser.add_argument("--limit", type=int, default=10, help="runs: how many recent runs")
    args = parser.parse_args(argv)
    if args.command != "dead-letters" and (args.requeue or args.reason_contains is not None):
        parser.error("--requeue and --reason-contains belong to the dead-letters command")
    if args.reason_contains is not None and not args.requeue:
        parser.error("--reason-contains selects what --requeue moves: add --requeue")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # MLflow's per-download progress bars and its store's INFO lines would bury the output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # A run on an MLflow server prints its run's URL; the report links every run instead.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # Connection chatter of the broker and S3 clients (pika logs each consumer at DEBUG).
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)
    if args.command == "rollback":
        return rollback(Settings(), args.reason)
    if args.command == "dead-letters":
        # Neither dagster nor TensorFlow: the queue alone.
        if args.requeue:
            requeue_dead_letters(Settings(), args.reason_contains)
        else:
            show_dead_letters(Settings())
        return 0
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
    if args.command == "runs":
        from mlops_assets.tools.runs import show

        with dg.DagsterInstance.get() as instance:
            return show(instance, watch=args.watch, interval_s=args.interval, limit=args.limit)
    settings = Settings()
    with stderr_silenced():
        # TensorFlow's C++ prints a oneDNN banner when imported, before any log level applies
        # (TF_CPP_MIN_LOG_LEVEL does not reach it); import errors still raise after this block.
        from mlops_assets.demo import commands

    if args.command == "publish-demo-events":
        commands.publish_demo_events(settings)
        return 0
    if args.command == "seed-demo":
        commands.seed_demo(settings)
        return 0
    return commands.run_demo(settings)


if __name__ == "__main__":
    raise SystemExit(main())
