"""Command line: `mlops-assets demo | seed-demo | publish-demo-events | publish-demo-face-events |
dead-letters [--source task|face] [--requeue [--reason-contains TEXT]] | rollback [--from VERSION]
[--request-id ID] | outbox | health | runs [--watch]`, each with `--verbose` for the libraries'
log lines.

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

# Broker connection attempts of a command: an operator waits for it.
BROKER_ATTEMPTS = 2


# The replicated sources whose dead letters an operator reads and re-drives (`--source`).
SOURCES = ("face", "task")


def _source_queue(source: str) -> tuple[str, str]:
    """A source's queue and what its events are called."""
    from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
    from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE

    return {
        "task": (TASK_CONFIRMED_QUEUE, "task events"),
        "face": (FACE_REGISTERED_QUEUE, "face events"),
    }[source]


def show_dead_letters(settings: Settings, limit: int = 20, source: str = "task") -> int:
    """Logs a source's oldest dead-lettered events with the reason each was set aside."""
    from mlops_assets.backends import factory

    queue_name, what = _source_queue(source)
    queue = factory.event_queue(settings)
    try:
        letters = queue.dead_letters(queue_name, limit)
    finally:
        queue.close()
    for letter in letters:
        log.info("dead letter: %s | %r", letter.reason, letter.body[:200])
    log.info("%d dead-lettered %s shown (limit %d)", len(letters), what, limit)
    return len(letters)


def requeue_dead_letters(
    settings: Settings, reason_contains: str | None, source: str = "task"
) -> int:
    """Moves a source's dead-lettered events back onto its queue (after a producer is fixed)."""
    from mlops_assets.backends import factory

    queue_name, what = _source_queue(source)
    queue = factory.event_queue(settings)
    try:
        moved = queue.requeue_dead_letters(queue_name, reason_contains)
    finally:
        queue.close()
    which = "" if reason_contains is None else f" whose reason contains {reason_contains!r}"
    log.info("moved %d dead-lettered %s%s back onto the queue", moved, what, which)
    return moved


def check_health(settings: Settings) -> int:
    """Prints each configured backend and whether it answers; 1 if any does not."""
    from mlops_assets.tools import health

    results = health.check_all(settings)
    sys.stdout.write(health.render(results) + "\n")
    return 0 if all(r.ok for r in results) else 1


def drain_outbox(settings: Settings, say_when_empty: bool = False) -> int:
    """Delivers the champion moves' pending events and alerts; returns how many still wait.

    `say_when_empty`: log that nothing was pending (the `outbox` command's answer).
    """
    from mlops_assets.backends import factory, outbox

    registry = factory.registry(settings)
    queue = factory.event_queue(settings, connect_attempts=BROKER_ATTEMPTS)
    try:
        drained = outbox.drain(
            registry.client(), registry.model_name, queue, factory.notifier(settings), log
        )
    finally:
        queue.close()
    for key in drained.delivered:
        log.info("outbox: delivered %s", key)
    for key in drained.pending:
        log.warning("outbox: pending %s (delivered by the next drain)", key)
    if say_when_empty and not drained.delivered and not drained.pending:
        log.info("outbox: nothing pending")
    return len(drained.pending)


def rollback(
    settings: Settings,
    reason: str,
    expected: str | None = None,
    request_id: str | None = None,
) -> int:
    """Moves @champion back to the version it replaced and waits for the server to serve it.

    The same use case as `<model>_rollback_job`, without dagster or the Definitions: those import
    TensorFlow (seconds), and a rollback should take well under two seconds. Exits 0 once the
    alias moved, even when the broker is down: the event and alert then wait in the outbox (the
    output names them) and leave with the next drain.
    """
    from mlops_assets.backends import factory
    from mlops_assets.retraining.rollback import roll_back_champion

    started = time.perf_counter()
    # What earlier moves left behind goes first.
    drain_outbox(settings)
    queue = factory.event_queue(settings, connect_attempts=BROKER_ATTEMPTS)
    try:
        moved = roll_back_champion(
            factory.registry(settings),
            factory.inference_server(settings),
            queue,
            reason,
            log,
            notifier=factory.notifier(settings),
            expected=expected,
            transition=request_id,
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
    else:
        log.error("@champion is v%s but %s did not follow", moved.version, settings.serving_url)
    for key in moved.pending:
        log.warning(
            "pending in the outbox: %s (the broker or alert channel is down; "
            "`mlops-assets outbox` or the next rollback delivers it)",
            key,
        )
    log.info(
        "rollback v%s -> v%s (%s) took %.2f s",
        moved.previous_version,
        moved.version,
        moved.transition,
        time.perf_counter() - started,
    )
    return 0 if moved.server_following is not False else 1


class CommandFormatter(logging.Formatter):
    """The command's own lines as bare messages; a library's (errors, or all with --verbose)
    with their time, level and logger, so a reader sees where they come from."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "mlops_assets" or record.name.startswith("mlops_assets."):
            return record.getMessage()
        return super().format(record)


def configure_output(verbose: bool) -> None:
    """What a command prints: its own lines; library log lines and warnings (alembic's
    migrations, MLflow's store, Dagster's instance) only with --verbose, errors always."""
    logging.getLogger("mlops_assets").setLevel(logging.INFO)
    root = logging.getLogger()
    # Only in a command's own process: a host that already logs (pytest) keeps its handlers.
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(CommandFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO if verbose else logging.ERROR)
        logging.captureWarnings(True)
    if verbose:
        return
    # MLflow's per-download progress bars and its store's INFO lines would bury the output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # A run on an MLflow server prints its run's URL; the report links every run instead.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # pika logs every refused connection with a traceback; the commands say what failed and what
    # waits in the outbox.
    logging.getLogger("pika").setLevel(logging.CRITICAL)


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
            "publish-demo-face-events",
            "dead-letters",
            "rollback",
            "outbox",
            "health",
            "runs",
        ],
    )
    parser.add_argument(
        "--reason", default="rollback on demand", help="rollback: why, kept in the history"
    )
    parser.add_argument(
        "--from",
        dest="expected",
        metavar="VERSION",
        help="rollback: only if @champion still is VERSION (refused otherwise)",
    )
    parser.add_argument(
        "--request-id",
        help="rollback: the request's id; a retry with the same id does not roll back twice",
    )
    parser.add_argument(
        "--requeue",
        action="store_true",
        help="dead-letters: move the dead letters back onto the queue (after fixing a producer)",
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="task",
        help="dead-letters: whose dead letters: task (task.confirmed) or face (face.registered)",
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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also print the libraries' log lines (alembic, MLflow, Dagster, …) and warnings",
    )
    args = parser.parse_args(argv)
    if args.command != "dead-letters" and (args.requeue or args.reason_contains is not None):
        parser.error("--requeue and --reason-contains belong to the dead-letters command")
    if args.reason_contains is not None and not args.requeue:
        parser.error("--reason-contains selects what --requeue moves: add --requeue")
    configure_output(args.verbose)
    if args.command == "rollback":
        return rollback(Settings(), args.reason, args.expected, args.request_id)
    if args.command == "outbox":
        return 1 if drain_outbox(Settings(), say_when_empty=True) else 0
    if args.command == "dead-letters":
        # Neither dagster nor TensorFlow: the queue alone.
        if args.requeue:
            requeue_dead_letters(Settings(), args.reason_contains, args.source)
        else:
            show_dead_letters(Settings(), source=args.source)
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
    if args.command == "publish-demo-face-events":
        commands.publish_demo_face_events(settings)
        return 0
    if args.command == "seed-demo":
        commands.seed_demo(settings)
        return 0
    return commands.run_demo(settings)


if __name__ == "__main__":
    raise SystemExit(main())
