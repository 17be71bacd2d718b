"""Benchmark: steps on Celery workers against the in-process executor.

1. One `<model>_retrain_job` run (2024-12) in-process and on two warm Celery workers (a steps worker
   and a training worker) over the real RabbitMQ: the executor's overhead.
2. A backfill of `training_data` + `trained_model` for MONTHS months, the months' runs started
   together, on one worker and then on two (each serving both queues): what a second worker buys.
   Promotion is not in it: the registry pool runs promoting runs one at a time anyway.
3. Step values in S3 (SeaweedFS) against the filesystem: ROUNDS in-process
   `<model>_retrain_job` runs each, taken in turns (medians of the mean step time and of the
   time spent storing and
   loading values); what one step on a worker pays its IO manager (start it, store a value,
   load it), for the filesystem, `dagster-aws`'s stock S3PickleIOManager and this project's;
   the bytes a run moves through the step-values store, and what the training snapshot would
   weigh as a pickle.
4. The backfill of 2 on two Celery workers that share no disk with the orchestrator (each its own
   folder, the orchestrator's hidden where `unshare --mount` is allowed): PostgreSQL for the
   instance, results, data and MLflow; S3 for step values, step logs, snapshots and models.

Needs RabbitMQ on RABBITMQ_URL (default 127.0.0.1:5672, guest), and for 3 and 4 PostgreSQL on
POSTGRES_URL. Queue names are unique to this run. Writes bench/results/scaleout.json (with
`--no-shared-disk`, only 3 and 4, with `--step-values` only 3, merged into the file's earlier
figures). Run with `make bench` or `python bench/scaleout.py`.
"""

import argparse
import json
import os
import pickle
import platform
import shutil
import signal
import statistics
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
from dagster_aws.s3 import S3PickleIOManager, S3Resource

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.source import demo_tasks
from mlops_assets.demo.spec import DEMO_NAMES as PHOTO
from mlops_assets.graph.execution import worker_config
from mlops_assets.graph.step_values import step_io_manager
from mlops_assets.settings import Settings
from mlops_assets.tools import processes

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "scaleout.json"
BROKER = os.environ.get("RABBITMQ_URL", processes.RABBITMQ_URL)
MONTH = "2024-12-01"
BACKFILL = ["2024-10-01", "2024-11-01", "2024-12-01"]
TAG = uuid.uuid4().hex[:8]
STEPS_QUEUE, TRAINING_QUEUE = f"mlops-bench-{TAG}-steps", f"mlops-bench-{TAG}-training"
# Step values (3): in-process runs per IO manager, taken in turns; IO cycles per IO manager; the
# value of a cycle, about the size of the largest step value (`verification_report`, 2 kB).
ROUNDS, CYCLES = 3, 30
CYCLE_VALUE = {"report": "x" * 2000}


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
        command = dagster("job", "execute", "-j", PHOTO.retrain_job)
        command += ["--tags", json.dumps({"dagster/partition": MONTH})]
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - started
    finally:
        stop(workers)
    (row,) = run_seconds(home)
    return {"command_wall_s": round(wall, 2), **{k: round(v, 2) for k, v in row.items()}}


def materialize_months(env: dict[str, str], parent: Path, name: str, cwd: Path | None = None):
    """`training_data` + `trained_model` of every BACKFILL month, the runs started together;
    returns the wall time until the last ended."""
    started = time.perf_counter()
    logs = [parent / f"backfill-{name}-{month}.log" for month in BACKFILL]
    runs = [
        subprocess.Popen(
            dagster(
                "asset",
                "materialize",
                "--select",
                f"{PHOTO.key('training_data').to_user_string()},{PHOTO.key('trained_model').to_user_string()}",
            )
            + ["--partition", month],
            cwd=cwd,
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
    return time.perf_counter() - started


def backfill(parent: Path, worker_count: int) -> dict:
    home = fresh_home(parent, f"backfill-{worker_count}")
    env = environment(home, "celery")
    workers = [
        start_worker(env, parent, f"w{i}-of-{worker_count}", [STEPS_QUEUE, TRAINING_QUEUE])
        for i in range(worker_count)
    ]
    try:
        wall = materialize_months(env, parent, str(worker_count))
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


STEP_EVENTS = {"STEP_START", "STEP_SUCCESS", "STEP_OUTPUT", "HANDLED_OUTPUT", "LOADED_INPUT"}


def step_timings(instance: dg.DagsterInstance, run_id: str) -> dict:
    """Mean step time, and the time spent in the IO manager: from each step's output event to
    its stored value, and from the event before each loaded input to it."""
    steps, io_s, previous = {}, 0.0, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None or event.event_type_value not in STEP_EVENTS:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            steps[event.step_key] = [entry.timestamp, None]
        elif kind == "STEP_SUCCESS":
            steps[event.step_key][1] = entry.timestamp
        elif kind in ("HANDLED_OUTPUT", "LOADED_INPUT"):
            io_s += entry.timestamp - previous[event.step_key]
        previous[event.step_key] = entry.timestamp
    durations = [end - start for start, end in steps.values() if end is not None]
    return {
        "steps": len(durations),
        "mean_step_s": round(sum(durations) / len(durations), 3),
        "io_manager_s": round(io_s, 3),
        "io_manager_s_per_step": round(io_s / len(durations), 4),
    }


def use_test_support() -> None:
    """Makes the integration tests' service starters importable (3 and 4 start the same
    SeaweedFS, MLflow server and worker hosts)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def io_cycle_seconds(manager: dg.ConfigurableIOManager, instance: dg.DagsterInstance) -> float:
    """What a step on a Celery worker pays the IO manager: start it (a worker starts the step's
    resources for each step), store one value and load it back."""
    key = dg.AssetKey(["bench", "value"])
    output = dg.build_output_context(asset_key=key, instance=instance)
    input_ = dg.build_input_context(asset_key=key, upstream_output=output, instance=instance)
    started = time.perf_counter()
    with dg.build_resources({"io_manager": manager}, instance=instance) as resources:
        resources.io_manager.handle_output(output, CYCLE_VALUE)
        assert resources.io_manager.load_input(input_) == CYCLE_VALUE
    return time.perf_counter() - started


def step_start_cycles(weed, url: str) -> dict:
    """Median IO cycle (`io_cycle_seconds`) of the filesystem IO manager, of `dagster-aws`'s
    S3PickleIOManager as shipped (a new boto3 session and client at each start) and of this
    project's (`graph/step_values.py`: one client per process), interleaved, CYCLES each."""
    stock = S3PickleIOManager(
        s3_resource=S3Resource(endpoint_url=weed.endpoint_url, region_name="us-east-1"),
        s3_bucket=weed.bucket,
        s3_prefix="stock",
    )
    managers = {
        "filesystem": step_io_manager(None, None, "us-east-1"),
        "s3_dagster_aws_stock": stock,
        "s3_one_client_per_process": step_io_manager(url, weed.endpoint_url, "us-east-1"),
    }
    seconds = {name: [] for name in managers}
    with dg.DagsterInstance.ephemeral() as instance:
        for _ in range(CYCLES):
            for name, manager in managers.items():
                seconds[name].append(io_cycle_seconds(manager, instance))
    cycles = {name: round(statistics.median(values) * 1000, 1) for name, values in seconds.items()}
    return {"cycles": CYCLES, "median_ms": cycles}


def step_values_overhead(parent: Path) -> dict:
    """ROUNDS pairs of in-process `<model>_retrain_job` runs, values on the filesystem then in
    S3, and the per-step IO cycle of each IO manager (`step_start_cycles`)."""
    use_test_support()
    from mlops_assets_tests.support.stack_fixtures import start_seaweedfs

    weed = start_seaweedfs(parent / "s3")
    os.environ.update(weed.environment())
    try:
        rounds = {"filesystem": [], "s3": []}
        figures = {}
        for index in range(ROUNDS):
            for name, url in (("filesystem", None), ("s3", f"s3://{weed.bucket}/values")):
                home = fresh_home(parent, f"values-{name}-{index}")
                settings = Settings(
                    home=home, step_values_url=url, s3_endpoint_url=weed.endpoint_url
                )
                job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
                with dg.DagsterInstance.ephemeral() as instance:
                    result = job.execute_in_process(instance=instance, partition_key=MONTH)
                    rounds[name].append(step_timings(instance, result.run_id))
        objects = weed.client().list_objects_v2(Bucket=weed.bucket, Prefix="values/")
        figures["bytes_per_step"] = {
            item["Key"].removeprefix("values/"): item["Size"] for item in objects["Contents"]
        }
        figures["training_data_as_pickle_bytes"] = len(
            pickle.dumps(result.output_for_node(PHOTO.key("training_data").to_python_identifier()))
        )
        figures["training_data_handoff_bytes"] = len(
            factory.object_store(settings).get_bytes(
                f"{PHOTO.model}/training_data/handoff/{MONTH}.json"
            )
        )
        figures["step_start_io_cycle"] = step_start_cycles(weed, f"s3://{weed.bucket}/cycles")
    finally:
        weed.stop()
    for name, runs in rounds.items():
        figures[name] = {
            "runs": runs,
            **{
                f"median_{field}": round(statistics.median(run[field] for run in runs), 4)
                for field in ("mean_step_s", "io_manager_s_per_step")
            },
        }
    figures["bytes_per_run"] = sum(figures["bytes_per_step"].values())
    figures["s3_over_filesystem_mean_step_ratio"] = round(
        figures["s3"]["median_mean_step_s"] / figures["filesystem"]["median_mean_step_s"], 2
    )
    figures["s3_over_filesystem_mean_step_ratio_per_round"] = [
        round(s3["mean_step_s"] / fs["mean_step_s"], 2)
        for fs, s3 in zip(rounds["filesystem"], rounds["s3"], strict=True)
    ]
    return figures


def no_shared_disk_backfill(parent: Path) -> dict:
    """The backfill on two worker hosts that share only PostgreSQL, RabbitMQ and S3."""
    use_test_support()
    from mlops_assets_tests.support.celery_workers import celery_workers
    from mlops_assets_tests.support.remote_hosts import (
        can_hide,
        host_environment,
        shared_services,
    )
    from mlops_assets_tests.support.stack_fixtures import start_seaweedfs

    weed = start_seaweedfs(parent / "s3-hosts")
    try:
        with shared_services(weed, parent / "shared") as shared:
            store = factory.data_store(
                Settings(data_store_url=shared.environment["MLOPS_DATA_STORE_URL"])
            )
            store.insert(demo_tasks())
            store.close()
            variables = {
                **shared.environment,
                "MLOPS_EXECUTOR": "celery",
                "MLOPS_CELERY_BROKER_URL": BROKER,
                "MLOPS_CELERY_QUEUE": STEPS_QUEUE,
                "MLOPS_CELERY_TRAINING_QUEUE": TRAINING_QUEUE,
            }
            orchestrator = parent / "orchestrator"
            env = host_environment(variables, orchestrator)
            hide = orchestrator if can_hide() else None
            with (
                celery_workers(host_environment(variables, parent / "a"), parent / "a", hide) as a,
                celery_workers(host_environment(variables, parent / "b"), parent / "b", hide) as b,
            ):
                a.start(f"bench-{TAG}-a", STEPS_QUEUE, TRAINING_QUEUE)
                b.start(f"bench-{TAG}-b", STEPS_QUEUE, TRAINING_QUEUE)
                wall = materialize_months(env, parent, "hosts", cwd=orchestrator)
            os.environ["DAGSTER_POSTGRES_URL"] = env["DAGSTER_POSTGRES_URL"]
            for name in ("DAGSTER_COMPUTE_LOGS_BUCKET", "MLOPS_S3_ENDPOINT_URL"):
                os.environ[name] = env[name]
            rows = run_seconds(orchestrator)
            storage = orchestrator / "dagster" / "storage"
            written = [p for p in storage.rglob("*") if p.is_file()]
    finally:
        weed.stop()
    return {
        "wall_s": round(wall, 2),
        "trained_model_s_each": sorted(round(r["trained_model_s"], 2) for r in rows),
        "orchestrator_var_hidden_from_workers": hide is not None,
        "files_in_orchestrator_storage": len(written),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--no-shared-disk", action="store_true", help="only 3 and 4, merged into the results"
    )
    parser.add_argument("--step-values", action="store_true", help="only 3, merged likewise")
    args = parser.parse_args()
    # This process reads the stores with the runs' settings: embedded, under each home.
    for name in [n for n in os.environ if n.startswith(processes.CONFIGURATION_PREFIXES)]:
        del os.environ[name]
    if args.no_shared_disk or args.step_values:
        new = {}
        with tempfile.TemporaryDirectory() as parent:
            try:
                new["step_values"] = step_values_overhead(Path(parent))
                if args.no_shared_disk:
                    new["backfill_two_hosts_no_shared_disk"] = no_shared_disk_backfill(Path(parent))
            finally:
                delete_queues()
        figures = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        figures.update(new)
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        sys.stdout.write(json.dumps(new, indent=2) + "\n")
        return
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
