"""Benchmark: one full retraining run on the production stack vs on embedded defaults.

Same demo data, same job, same default hyperparameters, same process. Embedded: SQLite data
store, MLflow on a SQLite file, local artifact and snapshot folders. Stack: PostgreSQL data
store, an MLflow tracking server on PostgreSQL, artifacts and Parquet snapshots in SeaweedFS S3.
Each repetition starts from an empty registry (a first run), alternating the two setups; the
figures are medians. Also reported: the run's time beside fitting the model, which is what the
stack's backends can change.
Writes bench/results/stack.json. Run with `make bench` or `python bench/stack.py`.
"""

import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

import dagster as dg

from mlops_assets.backends import factory
from mlops_assets.backends.object_store import S3ObjectStore
from mlops_assets.backends.storage_errors import ObjectStoreError
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.replay import STAGES, stage_seconds
from mlops_assets.demo.source import demo_tasks
from mlops_assets.demo.spec import DEMO_NAMES as PHOTO
from mlops_assets.settings import Settings
from mlops_assets.tools import processes

RESULTS = Path(__file__).parent / "results" / "stack.json"
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
POSTGRES_URL = os.environ.get("POSTGRES_URL", processes.POSTGRES_URL)
# A month with eleven months of demo photos before it (the core benchmark's data size).
MONTH = "2024-12-01"
ACCESS_KEY, SECRET_KEY, BUCKET = "bench-key", "bench-secret", "mlops"


def wait_until(ready, timeout: float, what: str) -> float:
    started = time.perf_counter()
    while not ready():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{what} not ready after {timeout} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def bucket_ready(endpoint: str) -> bool:
    try:
        S3ObjectStore(bucket=BUCKET, endpoint_url=endpoint).check()
        return True
    except ObjectStoreError:
        return False


def timed_run(settings: Settings) -> tuple[float, float, dict[str, float]]:
    """Returns the run's wall time, the time spent fitting the model, and per-stage times."""
    job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, partition_key=MONTH)
        total = time.perf_counter() - started
        assert result.success
        fitting = next(
            e.materialization.metadata["training_seconds"].value
            for e in result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == "trained_model"
        )
        stages = stage_seconds(instance, result.run_id)
        return total, fitting, {k: v for k, v in stages.items() if k in STAGES}


def main() -> None:
    records = demo_tasks()
    scratch = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    ports = processes.WeedPorts.free()
    endpoint = f"http://{processes.HOST}:{ports.s3}"
    s3_env = processes.s3_client_environment(endpoint, ACCESS_KEY, SECRET_KEY)
    os.environ.update(s3_env)
    mlflow_db = processes.create_database(POSTGRES_URL)
    data_db = processes.create_database(POSTGRES_URL)
    children = []
    try:
        (scratch / "s3").mkdir()
        started = time.perf_counter()
        children.append(
            subprocess.Popen(
                processes.weed_mini_command(scratch / "s3", ports, BUCKET),
                stdout=open(scratch / "weed.log", "wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        wait_until(lambda: bucket_ready(endpoint), 60, "SeaweedFS")
        weed_start = time.perf_counter() - started
        mlflow_port = processes.free_port()
        tracking = f"http://{processes.HOST}:{mlflow_port}"
        started = time.perf_counter()
        children.append(
            subprocess.Popen(
                processes.mlflow_server_command(f"s3://{BUCKET}/mlflow", mlflow_port),
                env={**os.environ, **processes.mlflow_server_environment(mlflow_db)},
                stdout=open(scratch / "mlflow.log", "wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        wait_until(lambda: http_ok(f"{tracking}/health"), 180, "MLflow server")
        mlflow_start = time.perf_counter() - started

        store = factory.data_store(Settings(home=scratch / "seed", data_store_url=data_db))
        store.insert(records)
        store.close()

        timings = {"embedded": [], "stack": []}
        beside_fitting = {"embedded": [], "stack": []}
        stages = {"embedded": defaultdict(list), "stack": defaultdict(list)}
        for i in range(REPEATS):
            tag = uuid.uuid4().hex[:8]
            embedded = Settings(home=scratch / f"embedded-{i}")
            seeded = factory.data_store(embedded)
            seeded.insert(records)
            seeded.close()
            stack = Settings(
                home=scratch / f"stack-{i}",
                data_store_url=data_db,
                tracking_uri=tracking,
                mlflow_ui_url=tracking,
                object_store_url=f"s3://{BUCKET}/datasets-{tag}",
                s3_endpoint_url=endpoint,
                experiment=f"bench-{tag}",
                model_name=f"bench-{tag}",
            )
            order = [("embedded", embedded), ("stack", stack)]
            for name, settings in order if i % 2 == 0 else reversed(order):
                total, fitting, per_stage = timed_run(settings)
                timings[name].append(total)
                beside_fitting[name].append(total - fitting)
                for stage, seconds in per_stage.items():
                    stages[name][stage].append(seconds)
                print(f"run {i + 1}/{REPEATS} {name}: {total:.2f} s")
    finally:
        for process in reversed(children):
            os.killpg(process.pid, 15)
            process.wait(timeout=60)
        processes.drop_database(mlflow_db)
        processes.drop_database(data_db)

    median = {name: statistics.median(values) for name, values in timings.items()}
    # Fitting the CNN is the same work on both and its time varies with the shared CPU; what the
    # stack adds (HTTP, PostgreSQL, S3) is everything beside it.
    beside = {name: statistics.median(values) for name, values in beside_fitting.items()}
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "repeats": REPEATS,
        "data": f"demo, {len(records)} photos",
        "embedded": "SQLite data store, MLflow on SQLite file, local artifact + snapshot folders",
        "stack": "PostgreSQL data store, MLflow server on PostgreSQL, SeaweedFS S3 artifacts + "
        "Parquet snapshots",
        "full_run_s": {k: round(v, 2) for k, v in median.items()},
        "full_run_all_s": {k: [round(v, 2) for v in vs] for k, vs in timings.items()},
        "stack_over_embedded_ratio": round(median["stack"] / median["embedded"], 2),
        "beside_model_fitting_s": {k: round(v, 2) for k, v in beside.items()},
        "beside_model_fitting_ratio": round(beside["stack"] / beside["embedded"], 2),
        "stages_median_s": {
            name: {stage: round(statistics.median(v), 3) for stage, v in per.items()}
            for name, per in stages.items()
        },
        "startup_s": {"seaweedfs": round(weed_start, 2), "mlflow_server": round(mlflow_start, 2)},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
