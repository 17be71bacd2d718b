"""Celery workers for the scale-out tests: real `dagster-celery` worker processes on the real
RabbitMQ, each on queues of its own test so that parallel sessions on one broker never share."""

import os
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pika
import yaml

from mlops_assets.graph.execution import worker_config
from mlops_assets.settings import Settings
from mlops_assets.tools import processes
from mlops_assets_tests.support.photo_graph import PHOTO, key
from mlops_assets_tests.support.remote_hosts import hiding
from mlops_assets_tests.support.services import RABBITMQ_URL, service_missing

READY_TIMEOUT_S = 180


def broker_or_skip() -> None:
    if not processes.answers("127.0.0.1", 5672):
        service_missing(f"RabbitMQ is not answering at {RABBITMQ_URL}")


def scaled_out_environment(
    home: Path, tag: str | None = None, executor: str = "celery"
) -> dict[str, str]:
    """The environment of a run and its workers: embedded stores under `home`, steps on Celery
    queues named for this test only."""
    tag = tag or uuid.uuid4().hex[:8]
    env = processes.embedded_environment(
        home,
        MLOPS_EXECUTOR=executor,
        MLOPS_CELERY_BROKER_URL=RABBITMQ_URL,
        MLOPS_CELERY_QUEUE=f"mlops-test-{tag}-steps",
        MLOPS_CELERY_TRAINING_QUEUE=f"mlops-test-{tag}-training",
        # Same retries as production, without the five-minute waits (as in conftest).
        MLOPS_RETRY_DELAY_S="0",
    )
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "dagster-local.yaml"
    (home / "dagster" / "dagster.yaml").write_text(deploy.read_text())
    return env


class Workers:
    """Started worker processes by name; each in its own process group.

    With `hide`, the workers run in `folder` (their working directory) with `hide` covered by
    an empty tmpfs in a mount namespace of their own: a host that shares no disk with `hide`.
    """

    def __init__(self, env: dict[str, str], folder: Path, hide: Path | None = None) -> None:
        self.env, self.folder, self.hide = env, folder, hide
        self.processes: dict[str, subprocess.Popen] = {}
        self.config = folder / "celery.yaml"
        folder.mkdir(parents=True, exist_ok=True)
        # The result backend the run reads: the default under MLOPS_HOME unless the env sets one.
        run_settings = Settings(
            home=Path(env["MLOPS_HOME"]), celery_backend_url=env.get("MLOPS_CELERY_BACKEND_URL")
        )
        document = worker_config(
            env["MLOPS_CELERY_BROKER_URL"],
            run_settings.resolved_celery_backend_url,
            env["MLOPS_CELERY_QUEUE"],
        )
        self.config.write_text(yaml.safe_dump(document))

    def start(self, name: str, *queues: str) -> None:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        command = processes.celery_worker_command(self.config, queues, name)
        self.processes[name] = subprocess.Popen(
            command if self.hide is None else hiding(self.hide, command),
            cwd=self.folder if self.hide is not None else None,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while b" ready." not in (self.folder / f"{name}.log").read_bytes():
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start: {self.log(name)}")
            time.sleep(0.5)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-4000:]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.processes[name].pid, sig)
        except ProcessLookupError:
            pass
        self.processes[name].wait(timeout=60)


@contextmanager
def celery_workers(env: dict[str, str], folder: Path, hide: Path | None = None):
    """Workers to `start`; every one is stopped and the test's queues deleted afterwards."""
    workers = Workers(env, folder, hide)
    try:
        yield workers
    finally:
        for process in workers.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)
        delete_queues(
            env["MLOPS_CELERY_BROKER_URL"],
            env["MLOPS_CELERY_QUEUE"],
            env["MLOPS_CELERY_TRAINING_QUEUE"],
        )


def delete_queues(broker_url: str, *names: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(queue=name)
    finally:
        connection.close()


def execute_command(month: str, config_file: Path) -> list[str]:
    """`dagster job execute` of the photo retrain job for one month: its own process orchestrates,
    the steps go to the workers."""
    return [
        str(processes.venv_binary("dagster")),
        "job",
        "execute",
        "-m",
        "mlops_assets.definitions",
        "-j",
        "task_photos_retrain_job",
        "--tags",
        f'{{"dagster/partition": "{month}"}}',
        "-c",
        str(config_file),
    ]


def queue_depth(name: str, broker_url: str = RABBITMQ_URL) -> int:
    """Messages in a queue, ready or taken and not yet acknowledged."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        return connection.channel().queue_declare(queue=name, passive=True).method.message_count
    finally:
        connection.close()


@contextmanager
def dagster_daemon(env: dict[str, str], log_path: Path):
    """`dagster-daemon run` on the project's workspace: it dequeues queued runs and launches
    each in its own process, as `dagster dev` does."""
    root = Path(__file__).resolve().parents[2]
    with open(log_path, "ab") as log:
        daemon = subprocess.Popen(
            [str(processes.venv_binary("dagster-daemon")), "run", "-w", "workspace.yaml"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield daemon
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=60)


def launch_command(job: str, month: str) -> list[str]:
    """`dagster job launch`: submits a run to the instance's run coordinator (the queue)."""
    return [
        str(processes.venv_binary("dagster")),
        "job",
        "launch",
        "-w",
        "workspace.yaml",
        "-j",
        job,
        "--tags",
        f'{{"dagster/partition": "{month}"}}',
    ]


def champion_materialization(instance: dg.DagsterInstance, run_id: str) -> dict:
    """The metadata of the photo model's `champion_model` materialization in a run."""
    events = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in events:
        materialization = record.event_log_entry.dagster_event.step_materialization_data
        if materialization.materialization.asset_key == PHOTO.key("champion_model"):
            return {k: v.value for k, v in materialization.materialization.metadata.items()}
    raise AssertionError(f"run {run_id} did not materialize {key('champion_model')}")


def worker_of_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """Which worker executed each step (in order, a step redelivered appears twice)."""
    taken: dict[str, list[str]] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        if event.message and "Executing steps" in event.message:
            worker = event.engine_event_data.metadata["Celery worker"].value
            taken.setdefault(event.step_key, []).append(worker.split("@")[0])
    return taken
