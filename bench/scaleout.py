"""Benchmark: steps on Celery workers against the in-process executor.

1. One `retrain_job` run (2024-12) in-process and on two warm Celery workers (a steps worker
   and a training worker) over the real RabbitMQ: the executor's overhead.
2. A backfill of `training_data` + `trained_model` for MONTHS months, the months' runs started
   together, on one worker and then on two (each serving both queues): what a second worker buys.
   Promotion is not in it: the registry pool runs promoting runs one at a time anyway.

Needs RabbitMQ on RABBITMQ_URL (default 127.0.0.1:5672, guest). Queue names are unique to this
run. Writes bench/results/scaleout.json. Run with `make bench` or `python bench/scaleout.py`.
"""

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
import pika
import pyarrow.parquet as pq
import yaml

from mlops_assets.backends import factory
from mlops_assets.demo.source import demo_tasks
from mlops_assets.graph.execution import worker_config
from mlops_assets.settings import Settings
from mlops_assets.tools import processes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "scaleout.json"
BROKER = os.environ.get("RABBITMQ_URL", processes.RABBITMQ_URL)
MONTH = "2024-12-01"
BACKFILL = ["2024-10-01", "2024-11-01", "2024-12-01"]
TAG = uuid.uuid4().hex[:8]
STEPS_QUEUE, TRAINING_QUEUE = f"mlops-bench-{TAG}-steps", f"mlops-bench-{TAG}-training"


def environment(home: Path, executor: str) -> dict[str, str]:
    return processes.embedded_environment(
        home,
        MLOPS_EXECUTOR=executor,
        MLOPS_CELERY_BROKER_URL=BROKER,
        MLOPS_CELERY_QUEUE=STEPS_QUEUE,
        MLOPS_CELERY_TRAINING_QUEUE=TRAINING_QUEUE,
    )


def fresh_home(parent: Path, name: str) -> Path:
    home = parent / name
    (home / "dagster").mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "dagster-local.yaml", home / "dagster" / "dagster.yaml")
    store = factory.data_store(Settings(home=home))
    store.insert(demo_tasks())
    store.close()
    # Creates the embedded MLflow database now: runs starting together would race to create it.
    factory.registry(Settings(home=home)).champion()
    return home


def start_worker(env: dict[str, str], folder: Path, name: str, queues: list[str]):
    config = folder / "celery.yaml"
    backend = Settings(home=Path(env["MLOPS_HOME"])).resolved_celery_backend_url
    config.write_text(yaml.safe_dump(worker_config(BROKER, backend, STEPS_QUEUE)))
    log_path = folder / f"{name}.log"
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            processes.celery_worker_command(config, queues, f"bench-{TAG}-{name}"),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while b" ready." not in log_path.read_bytes():
        if worker.poll() is not None:
            raise RuntimeError(f"worker {name} exited: {log_path.read_text()[-2000:]}")
        time.sleep(0.5)
    return worker


def stop(workers) -> None:
    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=120)


def dagster(*args: str) -> list[str]:
    return [str(processes.venv_binary("dagster")), *args, "-m", "mlops_assets.definitions"]


def run_seconds(home: Path) -> list[dict]:
    """Each run's duration and its trained_model step's, from the instance."""
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        rows = []
        for record in instance.get_run_records():
            assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS, record.dagster_run
            starts, ends = {}, {}
            for entry in instance.all_logs(record.dagster_run.run_id):
                event = entry.dagster_event
                if event and event.step_key == "trained_model":
                    if event.event_type_value == "STEP_START":
                        starts.setdefault("trained_model", entry.timestamp)
                    elif event.event_type_value == "STEP_SUCCESS":
                        ends["trained_model"] = entry.timestamp
            rows.append(
                {
                    "run_s": record.end_time - record.start_time,
                    "trained_model_s": ends["trained_model"] - starts["trained_model"],
                }
            )
        return rows


def one_retrain(parent: Path, executor: str) -> dict:
    home = fresh_home(parent, f"retrain-{executor}")
    env = environment(home, executor)
    workers = []
    if executor == "celery":
        workers = [
            start_worker(env, parent, f"steps-{executor}", [STEPS_QUEUE]),
            start_worker(env, parent, f"training-{executor}", [TRAINING_QUEUE]),
        ]
    try:
        command = dagster("job", "execute", "-j", "retrain_job")
        command += ["--tags", json.dumps({"dagster/partition": MONTH})]
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - started
    finally:
        stop(workers)
    (row,) = run_seconds(home)
    return {"command_wall_s": round(wall, 2), **{k: round(v, 2) for k, v in row.items()}}


def backfill(parent: Path, worker_count: int) -> dict:
    home = fresh_home(parent, f"backfill-{worker_count}")
    env = environment(home, "celery")
    workers = [
        start_worker(env, parent, f"w{i}-of-{worker_count}", [STEPS_QUEUE, TRAINING_QUEUE])
        for i in range(worker_count)
    ]
    try:
        started = time.perf_counter()
        logs = [parent / f"backfill-{worker_count}-{month}.log" for month in BACKFILL]
        runs = [
            subprocess.Popen(
                dagster("asset", "materialize", "--select", "training_data,trained_model")
                + ["--partition", month],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(log, "wb"),  # noqa: SIM115 (closed when the run exits)
            )
            for month, log in zip(BACKFILL, logs, strict=True)
        ]
        codes = [run.wait() for run in runs]
        for code, log in zip(codes, logs, strict=True):
            if code != 0:
                raise RuntimeError(f"{log.name} failed: {log.read_text()[-3000:]}")
        wall = time.perf_counter() - started
    finally:
        stop(workers)
    rows = run_seconds(home)
    return {
        "wall_s": round(wall, 2),
        "trained_model_s_each": sorted(round(r["trained_model_s"], 2) for r in rows),
        "snapshots": snapshot_sizes(home),
    }


def snapshot_sizes(home: Path) -> list[dict]:
    """Rows and Parquet bytes of each month's training-data snapshot (train + holdout)."""
    sizes = []
    for path in sorted((home / "objects").rglob("*.parquet")):
        rows = pq.ParquetFile(path).metadata.num_rows
        size = path.stat().st_size
        sizes.append({"rows": rows, "bytes": size, "bytes_per_row": round(size / rows, 1)})
    return sizes


def delete_queues() -> None:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    try:
        for name in (STEPS_QUEUE, TRAINING_QUEUE):
            connection.channel().queue_delete(queue=name)
    finally:
        connection.close()


def main() -> None:
    # This process reads the stores with the runs' settings: embedded, under each home.
    for name in [n for n in os.environ if n.startswith(processes.CONFIGURATION_PREFIXES)]:
        del os.environ[name]
    with tempfile.TemporaryDirectory() as parent:
        try:
            in_process = one_retrain(Path(parent), "in_process")
            celery = one_retrain(Path(parent), "celery")
            one = backfill(Path(parent), 1)
            two = backfill(Path(parent), 2)
        finally:
            delete_queues()
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, no GPU",
        "retrain_month": MONTH,
        "retrain_in_process": in_process,
        "retrain_celery_two_workers": celery,
        "celery_overhead_run_s": round(celery["run_s"] - in_process["run_s"], 2),
        "celery_over_in_process_run_ratio": round(celery["run_s"] / in_process["run_s"], 2),
        "backfill_months": len(BACKFILL),
        "backfill_one_worker": one,
        "backfill_two_workers": two,
        "backfill_speedup_two_over_one": round(one["wall_s"] / two["wall_s"], 2),
        "units": "seconds (wall clock); run_s from the Dagster instance's run start to end",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
