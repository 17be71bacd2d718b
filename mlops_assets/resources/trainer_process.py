"""Runs a trainer process through Dagster Pipes and supervises it.

`TrainerPipesClient` is Dagster's `PipesSubprocessClient` (the same Pipes session: context
injected, messages read from a temporary file) with what a training run needs on top: stdout
read line by line for the run manager's `VTM_PROGRESS::` / `VTM_RUN_META::` dialect, Pipes
custom messages handled as they arrive, a timeout, the trainer in its own process group so a
timeout or a cancelled run ends it and every child it started, a minimal environment (the
contract's `trainer_environment`), and the tail of its stderr, redacted, in the failure.
"""

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from queue import Empty, Queue

import dagster as dg

from mlops_assets.contracts.safe_text import redact
from mlops_assets.contracts.trainer import (
    SECRET_VARIABLE,
    MalformedTrainerMessage,
    Progress,
    RunMeta,
    parse_custom_message,
    parse_line,
    trainer_environment,
)

# Longer stdout lines are read in pieces (a piece with a protocol prefix is then malformed).
MAX_LINE_BYTES = 1 << 16
_POLL_S = 0.2


class _LiveMessageReader(dg.PipesTempFileMessageReader):
    """The temp-file reader, handing each custom message to `on_custom` as it arrives (the
    stock handler only queues them until the process has ended)."""

    def __init__(self, on_custom: Callable[[object], None]):
        super().__init__()
        self._on_custom = on_custom

    @contextmanager
    def read_messages(self, handler) -> Iterator[dict]:
        on_custom = self._on_custom

        class _Forwarding:
            def handle_message(self, message) -> None:
                handler.handle_message(message)
                if message.get("method") == "report_custom_message":
                    on_custom((message.get("params") or {}).get("payload"))

            def report_pipes_framework_exception(self, origin, exc_info) -> None:
                handler.report_pipes_framework_exception(origin, exc_info)

        with super().read_messages(_Forwarding()) as params:
            yield params


class TrainerInvocation(dg.PipesClientCompletedInvocation):
    """A finished trainer run: the Pipes results plus what its progress and run meta said."""

    def __init__(self, session, last_progress: Progress | None, run_meta: dict, seconds: float):
        super().__init__(session)
        self.last_progress = last_progress
        self.run_meta = run_meta
        self.seconds = seconds

    @property
    def reported_metadata(self) -> dict:
        """Metadata the trainer reported with Pipes' `report_asset_materialization`."""
        merged: dict = {}
        for result in self.get_results(implicit_materializations=False):
            if isinstance(result, dg.MaterializeResult):
                merged.update(result.metadata or {})
        return merged


class TrainerPipesClient(dg.PipesSubprocessClient):
    """PipesSubprocessClient for trainers: both progress dialects, timeout, process groups.

    Args:
        termination_grace_s: after a timeout or cancel, seconds between SIGTERM and SIGKILL to
            the trainer's process group.
        stderr_tail_lines: stderr lines kept for the failure message.
        env: extra environment for every trainer.
        cwd: working directory of every trainer (default: this process's).
        env_passthrough: variables of this process's environment a trainer gets besides
            `BASE_ENVIRONMENT`.
    """

    def __init__(
        self,
        termination_grace_s: float = 10.0,
        stderr_tail_lines: int = 20,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        env_passthrough: Sequence[str] = (),
    ):
        super().__init__(env=env, cwd=cwd, termination_timeout_seconds=termination_grace_s)
        self.stderr_tail_lines = stderr_tail_lines
        self.env_passthrough = tuple(env_passthrough)

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        command: Sequence[str],
        timeout_s: float,
        extras: dict | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> TrainerInvocation:
        """Runs `command` to completion inside a Pipes session.

        Args:
            context: the asset's context (Pipes logs and the run log go there).
            command: the trainer's argv.
            timeout_s: the trainer's process group is killed after this many seconds.
            extras: Pipes extras (`context.extras` in the trainer).
            env: environment added for this run.
            cwd: working directory for this run.
            on_progress: called for each progress report, in this thread.

        Returns:
            The invocation with the last progress, the run meta and the Pipes results.

        Raises:
            dagster.Failure: the trainer could not start, exited non-zero or ran past the timeout.
        """
        events: Queue = Queue()
        full_env = trainer_environment(
            os.environ, self.env_passthrough, {**self.env, **(env or {})}
        )
        secrets = [v for k, v in full_env.items() if SECRET_VARIABLE.search(k)]
        state = _RunState(context, on_progress or (lambda _: None), self.stderr_tail_lines, secrets)
        reader = _LiveMessageReader(lambda payload: events.put(("message", payload)))
        started = time.monotonic()
        with dg.open_pipes_session(
            context=context,
            context_injector=self.context_injector,
            message_reader=reader,
            extras=extras,
        ) as session:
            full_env.update(session.get_bootstrap_env_vars())
            try:
                process = subprocess.Popen(
                    list(command),
                    cwd=cwd or self.cwd,
                    env=full_env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as error:
                raise dg.Failure(
                    f"could not start the trainer `{shlex.join(command)}`: {error}. Set the "
                    "launchpad's trainer name to one of MLOPS_TRAINERS (or MLOPS_TRAINER_COMMAND) "
                    "whose command runs here.",
                    allow_retries=False,
                ) from error
            context.log.info(f"trainer started (pid {process.pid}): {shlex.join(command)}")
            pumps = [
                _pump(process.stdout, "stdout", events),
                _pump(process.stderr, "stderr", events),
            ]
            try:
                self._supervise(process, events, state, started + timeout_s, timeout_s)
            except BaseException:
                # Timeout, a cancelled run (DagsterExecutionInterruptedError) or a failing
                # progress handler: the trainer and every child it started end here.
                context.log.warning(f"stopping the trainer's process group {process.pid}")
                _end_group(process, self.termination_timeout_seconds)
                raise
            finally:
                _signal_group(process.pid, signal.SIGKILL)
                for pump in pumps:
                    pump.join(timeout=5)
        _drain(events, state)
        seconds = time.monotonic() - started
        if process.returncode != 0:
            raise dg.Failure(
                f"the trainer `{shlex.join(command)}` {_exit_words(process.returncode)} after "
                f"{seconds:.1f} s.{state.stderr_text()}",
                metadata={"exit_code": process.returncode, "stderr_tail": state.stderr_text()},
            )
        context.log.info(f"trainer finished in {seconds:.1f} s")
        return TrainerInvocation(session, state.last_progress, state.run_meta, seconds)

    def _supervise(self, process, events: Queue, state, deadline: float, timeout_s: float):
        open_streams = 2
        leader_done = False
        while open_streams or not leader_done:
            try:
                kind, item = events.get(timeout=_POLL_S)
            except Empty:
                kind, item = None, None
            if kind in ("stdout", "stderr") and item is None:
                open_streams -= 1
            elif kind is not None:
                state.handle(kind, item)
            if not leader_done and process.poll() is not None:
                leader_done = True
                # Children that outlive the trainer would hold its pipes open.
                _signal_group(process.pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise dg.Failure(
                    f"the trainer ran past its timeout of {timeout_s:g} s (trainer_timeout_s / "
                    f"MLOPS_TRAINER_TIMEOUT_S) and its process group was killed; last progress: "
                    f"{state.progress_words()}.{state.stderr_text()}"
                )


class _RunState:
    """What the supervisor learnt from the trainer's output so far."""

    def __init__(
        self,
        context,
        on_progress: Callable[[Progress], None],
        tail_lines: int,
        secrets: Sequence[str] = (),
    ):
        self.context = context
        self.secrets = secrets
        self.on_progress = on_progress
        self.stderr_tail: deque[str] = deque(maxlen=tail_lines)
        self.last_progress: Progress | None = None
        self.run_meta: dict = {}

    def handle(self, kind: str, item) -> None:
        if kind == "stderr":
            # The tail reaches the step failure, alerts and the event log: secrets masked.
            line = redact(item, self.secrets)
            self.stderr_tail.append(line)
            sys.stderr.write(line + "\n")
            return
        try:
            parsed = parse_line(item) if kind == "stdout" else parse_custom_message(item)
        except MalformedTrainerMessage as error:
            self.context.log.warning(f"ignored a trainer {kind} it could not read: {error}")
            return
        if isinstance(parsed, Progress):
            self.last_progress = parsed
            self.on_progress(parsed)
        elif isinstance(parsed, RunMeta):
            self.run_meta.update(parsed.values)
            self.context.log.info(f"trainer run meta: {parsed.values}")
        elif kind == "stdout":
            sys.stdout.write(item + "\n")

    def progress_words(self) -> str:
        p = self.last_progress
        return "none" if p is None else f"epoch {p.epoch}/{p.total_epochs or '?'}"

    def stderr_text(self) -> str:
        if not self.stderr_tail:
            return ""
        return "\nstderr (last lines):\n" + "\n".join(self.stderr_tail)


def _pump(stream, kind: str, events: Queue) -> threading.Thread:
    def read() -> None:
        with stream:
            for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
                events.put((kind, raw.decode("utf-8", "replace").rstrip("\r\n")))
        events.put((kind, None))

    thread = threading.Thread(target=read, name=f"trainer-{kind}", daemon=True)
    thread.start()
    return thread


def _drain(events: Queue, state: _RunState) -> None:
    """Handles what arrived after the process ended (Pipes messages read at session close)."""
    while True:
        try:
            kind, item = events.get_nowait()
        except Empty:
            return
        if item is not None:
            state.handle(kind, item)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _end_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the trainer's group, SIGKILL after `grace_s` to whatever is left."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _exit_words(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
