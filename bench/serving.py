"""Benchmark: the inference server's hot swap, latency and throughput, and rollback time.

In one run, on a temporary MLflow registry (SQLite file) holding three versions of the demo's
CNN (default hyperparameters), logged the way `trained_model` logs them:

1. swap hold time: `ModelHolder.swap` timed while reader threads predict;
2. 50 swaps (each a full download, hash check, load, warm-up and smoke test) while four client
   processes send single-photo requests; failed requests and p99 against a steady phase;
3. single-photo HTTP p50/p99 and requests/s with 1 and 4 clients, against `mlflow models serve`
   (`--env-manager local`) serving the same registered version, and against a bare FastAPI
   endpoint calling the same compiled function (the floor on this machine);
4. rollback: the rollback call, and the `mlops-assets rollback` command, to the server
   answering with the previous version;
5. the prediction recorder's overhead: p99 and requests/s of 3. with recording (the default)
   against a server with MLOPS_SERVING_RECORD_PREDICTIONS=false.
6. the cost of /metrics and request ids: p50/p99 with MLOPS_SERVING_METRICS on vs off, two
   servers on the same champion, rounds alternating (`--metrics` runs only this part and merges
   it into the results file).

Writes bench/results/serving.json. Run with `make bench` or `python bench/serving.py`.
Module-level imports stay light: the load clients are spawned processes that import this file.
"""

import http.client
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "serving.json"
PHOTO = [float((i * 7) % 17) for i in range(64)]
LOAD_SECONDS = 5.0
SWAPS = 50


def client_process(port, path, body, stop, deadline, ready, results) -> None:
    """One load client: requests back to back on one keep-alive connection until told to stop."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ready.put(True)
    started, latencies, failed = [], [], 0
    headers = {"Content-Type": "application/json"}
    while not stop.is_set() and time.time() < deadline:
        t0 = time.perf_counter()
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - t0)
        started.append(time.time())
        failed += not ok
    results.put((started, latencies, failed))


def run_load(port: int, path: str, body: bytes, clients: int, seconds: float, during=None):
    """Runs `clients` client processes for `seconds` (or until `during()` returns)."""
    ctx = mp.get_context("spawn")
    stop, ready, results = ctx.Event(), ctx.Queue(), ctx.Queue()
    deadline = time.time() + 3600
    procs = [
        ctx.Process(target=client_process, args=(port, path, body, stop, deadline, ready, results))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:  # the spawned clients import this module first
        ready.get(timeout=120)
    time.sleep(0.2)
    began = time.time()
    if during is None:
        time.sleep(seconds)
    else:
        during()
    ended = time.time()
    stop.set()
    parts = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    starts = np.concatenate([p[0] for p in parts])
    latencies = np.concatenate([p[1] for p in parts])
    window = (starts >= began) & (starts <= ended)
    lat = latencies[window] * 1000
    return {
        "clients": clients,
        "seconds": round(ended - began, 2),
        "requests": int(window.sum()),
        "failed": int(sum(p[2] for p in parts)),
        "req_per_s": round(window.sum() / (ended - began), 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
    }


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not up after {timeout_s} s")


ADMIN_TOKEN = "bench-admin-token"


def base_env(home: Path, tracking_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    env.update(MLOPS_HOME=str(home), MLFLOW_TRACKING_URI=tracking_uri, TF_CPP_MIN_LOG_LEVEL="2")
    # The servers' admin token; the rollback command reads the same variable.
    env["MLOPS_SERVING_ADMIN_TOKEN"] = ADMIN_TOKEN
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # `mlflow models serve` runs `uvicorn` from PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def register_versions(settings, registry, count: int) -> list[str]:
    import keras
    import mlflow

    from mlops_assets.backends import logged_model
    from mlops_assets.ml.model import TrainSettings, build_model
    from mlops_assets.resources.tracking import ensure_experiment

    experiment_id = ensure_experiment(
        settings.resolved_tracking_uri, settings.experiment, settings.resolved_artifact_location
    )
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    versions = []
    for seed in range(count):
        keras.utils.set_random_seed(seed)
        model = build_model(TrainSettings())
        with mlflow.start_run(experiment_id=experiment_id) as run:
            x = np.zeros((4, 8, 8, 1), dtype=np.float32)
            info, digest = logged_model.log_keras_model(model, x)
        versions.append(registry.register(info.model_uri, run.info.run_id, digest).version)
    return versions


def swap_hold_in_process(registry, version: str, swaps: int = 2000, readers: int = 4) -> dict:
    """Times ModelHolder.swap between two loaded models while reader threads predict."""
    from mlops_assets.serving.holder import ModelHolder
    from mlops_assets.serving.model_source import RegistrySource
    from mlops_assets.serving.reloader import ModelReloader

    source = RegistrySource(registry.tracking_uri, registry.model_name, "champion", registry.signer)
    reloader = ModelReloader(ModelHolder(), source, poll_interval_s=0)
    reloader.reload("bench")
    one = reloader.holder.current
    two = reloader._load(source.resolve())
    holder = ModelHolder()
    holder.swap(one)
    stop = threading.Event()
    photo = np.asarray([PHOTO], np.float32)

    def read() -> None:
        while not stop.is_set():
            holder.current.predict(photo)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    holds = []
    for i in range(swaps):
        holder.swap(two if i % 2 == 0 else one)
        holds.append(holder.swap_hold_ns[-1])
        time.sleep(0.0005)
    stop.set()
    for thread in threads:
        thread.join()
    holds_us = np.asarray(holds) / 1000
    return {
        "swaps": swaps,
        "reader_threads": readers,
        "p50_us": round(float(np.percentile(holds_us, 50)), 2),
        "p99_us": round(float(np.percentile(holds_us, 99)), 2),
        "max_us": round(float(holds_us.max()), 2),
    }


def swaps_under_load(url: str, port: int, registry, versions: list[str]) -> dict:
    import httpx

    body = json.dumps({"instances": [PHOTO]}).encode()
    steady = run_load(port, "/predict", body, 4, LOAD_SECONDS * 2)
    reload_seconds = []
    errors = []

    def swap_fifty() -> None:
        for i in range(SWAPS):
            # Three versions in turn: never the standby, so every swap is a full load.
            target = versions[(i + 1) % len(versions)]
            registry.client().set_registered_model_alias(registry.model_name, "champion", target)
            report = httpx.post(
                f"{url}/admin/reload", headers={"X-Admin-Token": ADMIN_TOKEN}, timeout=60
            ).json()
            if report["serving_version"] != target:
                errors.append(report)
            reload_seconds.append(report["seconds"])

    during = run_load(port, "/predict", body, 4, 0, during=swap_fifty)
    status = httpx.get(f"{url}/model", timeout=10).json()
    return {
        "swaps": SWAPS,
        "swaps_not_serving_target": len(errors),
        "clients": 4,
        "steady": steady,
        "during_swaps": during,
        "failed_requests_during_swaps": during["failed"],
        "reload_s_p50": round(float(np.median(reload_seconds)), 3),
        "reload_s_max": round(float(np.max(reload_seconds)), 3),
        "server_swap_hold_max_us": status["swap_hold_max_us"],
    }


def latency_throughput(port: int, body: bytes, path: str) -> dict:
    figures = {str(n): run_load(port, path, body, n, LOAD_SECONDS) for n in (1, 4)}
    print(path, json.dumps(figures), file=sys.stderr)
    return figures


def mlflow_serve(env: dict, model_uri: str) -> dict:
    port = free_port()
    body = json.dumps({"inputs": (np.asarray(PHOTO) / 16).reshape(1, 8, 8, 1).tolist()}).encode()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    command = [str(mlflow_bin), "models", "serve", "-m", model_uri, "--env-manager", "local"]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    log_path = Path(env["MLOPS_HOME"]) / "mlflow-serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            wait_http(f"http://127.0.0.1:{port}/ping", process, log_path)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(5):
                conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise RuntimeError(f"mlflow models serve answered {answer[:300]!r}")
            return latency_throughput(port, body, "/invocations")
        finally:
            process.terminate()
            process.wait(30)


BARE_SERVER = """
import sys
import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from mlops_assets.ml.predictor import Predictor

predictor = Predictor.load(sys.argv[2])
app = FastAPI()


@app.post("/predict")
async def predict(request: Request):
    body = await request.json()
    prediction = predictor.predict_pixels(np.asarray(body["instances"], np.float32))
    labels, probabilities = prediction.labels.tolist(), prediction.probabilities.tolist()
    return {"labels": labels, "probabilities": probabilities}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")
"""


def bare_fastapi(env: dict, registry, version: str) -> dict:
    """The floor: a bare FastAPI endpoint calling the same compiled function, nothing else."""
    port = free_port()
    home = Path(env["MLOPS_HOME"])
    keras_file = registry.download_version(version, home / "bare-model")
    log_path = home / "bare.log"
    with open(log_path, "wb") as log:
        command = [sys.executable, "-c", BARE_SERVER, str(port), str(keras_file)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            wait_http(f"http://127.0.0.1:{port}/docs", process, log_path)
            body = json.dumps({"instances": [PHOTO]}).encode()
            return latency_throughput(port, body, "/predict")
        finally:
            process.terminate()
            process.wait(30)


def without_recording(env: dict) -> dict:
    """Our server with MLOPS_SERVING_RECORD_PREDICTIONS=false, for the recorder's overhead."""
    port = free_port()
    log_path = Path(env["MLOPS_HOME"]) / "server-no-recording.log"
    server_env = {
        **env,
        "MLOPS_SERVING_PORT": str(port),
        "MLOPS_SERVING_POLL_INTERVAL_S": "0",
        "MLOPS_SERVING_RECORD_PREDICTIONS": "false",
    }
    with open(log_path, "wb") as log:
        command = [sys.executable, "-m", "mlops_assets.serving"]
        process = subprocess.Popen(command, env=server_env, stdout=log, stderr=log)
        try:
            wait_http(f"http://127.0.0.1:{port}/ready", process, log_path)
            body = json.dumps({"instances": [PHOTO]}).encode()
            return latency_throughput(port, body, "/predict")
        finally:
            process.terminate()
            process.wait(30)


def recording_overhead(recording: dict, plain: dict) -> dict:
    """p99 and req/s with the recorder on (the default) against off, per client count."""
    return {
        n: {
            "p99_ms_on": recording[n]["p99_ms"],
            "p99_ms_off": plain[n]["p99_ms"],
            "p99_overhead_pct": round(100 * (recording[n]["p99_ms"] / plain[n]["p99_ms"] - 1), 1),
            "req_per_s_on": recording[n]["req_per_s"],
            "req_per_s_off": plain[n]["req_per_s"],
        }
        for n in ("1", "4")
    }


def two_workers(env: dict) -> dict:
    """Our server with MLOPS_SERVING_WORKERS=2 (one process per core) on the same champion."""
    import httpx

    port = free_port()
    log_path = Path(env["MLOPS_HOME"]) / "server-2-workers.log"
    server_env = {**env, "MLOPS_SERVING_PORT": str(port), "MLOPS_SERVING_WORKERS": "2"}
    with open(log_path, "wb") as log:
        command = [sys.executable, "-m", "mlops_assets.serving"]
        process = subprocess.Popen(command, env=server_env, stdout=log, stderr=log)
        try:
            wait_http(f"http://127.0.0.1:{port}/ready", process, log_path)
            # Each worker loads its own model; wait until 20 answers in a row come ready.
            streak = 0
            while streak < 20:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
                streak = streak + 1 if ready.status_code == 200 else 0
                time.sleep(0.05)
            time.sleep(2)
            body = json.dumps({"instances": [PHOTO]}).encode()
            return latency_throughput(port, body, "/predict")
        finally:
            process.terminate()
            process.wait(30)


def metrics_overhead(env: dict, rounds: int = 5, clients: int = 1) -> dict:
    """p99 with /metrics and request ids on vs off: two servers on one champion, alternating.

    Both servers run at once (same model, same machine state), and the rounds alternate which
    one is loaded, so drift in the machine's load hits both; medians over the rounds.
    """
    body = json.dumps({"instances": [PHOTO]}).encode()
    servers = {}
    logs = []
    try:
        for mode in ("off", "on"):
            port = free_port()
            log_path = Path(env["MLOPS_HOME"]) / f"server-metrics-{mode}.log"
            log = open(log_path, "wb")
            logs.append(log)
            server_env = {
                **env,
                "MLOPS_SERVING_PORT": str(port),
                "MLOPS_SERVING_POLL_INTERVAL_S": "0",
                "MLOPS_SERVING_PUSH": "false",
                "MLOPS_SERVING_METRICS": "true" if mode == "on" else "false",
            }
            command = [sys.executable, "-m", "mlops_assets.serving"]
            process = subprocess.Popen(command, env=server_env, stdout=log, stderr=log)
            servers[mode] = (port, process)
            wait_http(f"http://127.0.0.1:{port}/ready", process, log_path)
        runs = {"off": [], "on": []}
        for round_ in range(rounds):
            order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
            for mode in order:
                runs[mode].append(run_load(servers[mode][0], "/predict", body, clients, 4.0))
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(30)
        for log in logs:
            log.close()
    p99 = {mode: float(np.median([r["p99_ms"] for r in runs[mode]])) for mode in runs}
    p50 = {mode: float(np.median([r["p50_ms"] for r in runs[mode]])) for mode in runs}
    rate = {mode: float(np.median([r["req_per_s"] for r in runs[mode]])) for mode in runs}
    figures = {
        "clients": clients,
        "rounds": rounds,
        "p99_ms_median": {mode: round(v, 3) for mode, v in p99.items()},
        "p50_ms_median": {mode: round(v, 3) for mode, v in p50.items()},
        "req_per_s_median": {mode: round(v, 1) for mode, v in rate.items()},
        "p99_overhead_percent": round(100 * (p99["on"] / p99["off"] - 1), 1),
        "p50_overhead_percent": round(100 * (p50["on"] / p50["off"] - 1), 1),
        "rounds_p99_ms": {mode: [r["p99_ms"] for r in runs[mode]] for mode in runs},
        "target_p99_overhead_percent": "<= 5",
    }
    print("metrics overhead", json.dumps(figures), file=sys.stderr)
    return figures


def middleware_cost_us(calls: int = 20000, rounds: int = 5) -> dict:
    """The work the middleware adds per request, in process: a no-op ASGI app called with and
    without `ObservabilityMiddleware` (request id, header, histogram), best of `rounds`."""
    import asyncio

    from mlops_assets.serving.metrics import ModelState, ObservabilityMiddleware, ServingMetrics

    async def bare(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    metrics = ServingMetrics(lambda: [ModelState("m", "1", 1, 0)])
    wrapped = ObservabilityMiddleware(bare, metrics)
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        return None

    async def timed(app) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - started) / calls * 1e6

    best = {"bare": float("inf"), "with_middleware": float("inf")}
    for _ in range(rounds):
        best["bare"] = min(best["bare"], asyncio.run(timed(bare)))
        best["with_middleware"] = min(best["with_middleware"], asyncio.run(timed(wrapped)))
    counting = np.zeros(10, dtype=np.int64)
    labels = np.array([3])
    started = time.perf_counter()
    for _ in range(calls):
        counting += np.bincount(labels, minlength=10)[:10]
    count_us = (time.perf_counter() - started) / calls * 1e6
    return {
        "bare_app_us": round(best["bare"], 2),
        "with_middleware_us": round(best["with_middleware"], 2),
        "added_us_per_request": round(best["with_middleware"] - best["bare"] + count_us, 2),
        "of_which_prediction_count_us": round(count_us, 2),
    }


def metrics_only() -> None:
    """`python bench/serving.py --metrics`: only the metrics overhead, merged into the results."""
    from mlops_assets.backends import factory
    from mlops_assets.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "var"
        home.mkdir()
        settings = Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
        registry = factory.registry(settings)
        versions = register_versions(settings, registry, 1)
        registry.promote(versions[0], "bench")
        env = base_env(home, settings.resolved_tracking_uri)
        overhead = {
            "in_process": middleware_cost_us(),
            "1": metrics_overhead(env, clients=1),
            "4": metrics_overhead(env, clients=4),
        }
    figures = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures["metrics_overhead"] = {
        "measured_at_load_average": [round(x, 2) for x in os.getloadavg()],
        **overhead,
    }
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures["metrics_overhead"], indent=2))


def rollback_times(url: str, registry, env: dict, versions: list[str], rounds: int = 3) -> dict:
    import httpx

    from mlops_assets.backends.inference_server import deploy

    def promote_second() -> None:
        registry.promote(versions[1], "bench")
        deploy(url, versions[1], "bench", 60, ADMIN_TOKEN)

    def answering(version: str) -> bool:
        body = httpx.post(f"{url}/predict", json={"instances": [PHOTO]}, timeout=10).json()
        return body["model_version"] == version

    registry.promote(versions[0], "bench")
    deploy(url, versions[0], "bench", 60, ADMIN_TOKEN)
    calls, commands = [], []
    for _ in range(rounds):
        promote_second()
        started = time.perf_counter()
        registry.rollback("bench")
        deploy(url, versions[0], "bench rollback", 60, ADMIN_TOKEN)
        assert answering(versions[0])
        calls.append(time.perf_counter() - started)
    command = [str(Path(sys.executable).parent / "mlops-assets"), "rollback", "--reason", "bench"]
    for _ in range(rounds):
        promote_second()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        while not answering(versions[0]):
            time.sleep(0.005)
        commands.append(time.perf_counter() - started)
        if process.wait(60) != 0:
            raise RuntimeError(process.stderr.read().decode())
    return {
        "call_to_old_version_s": [round(s, 3) for s in calls],
        "command_to_old_version_s": [round(s, 3) for s in commands],
    }


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import httpx

    from mlops_assets.backends import factory
    from mlops_assets.settings import Settings

    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "var"
        home.mkdir()
        settings = Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
        registry = factory.registry(settings)
        versions = register_versions(settings, registry, 3)
        registry.promote(versions[0], "bench")
        hold = swap_hold_in_process(registry, versions[0])

        env = base_env(home, settings.resolved_tracking_uri)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server_env = {
            **env,
            "MLOPS_SERVING_PORT": str(port),
            "MLOPS_SERVING_POLL_INTERVAL_S": "0",
        }
        log_path = home / "server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "mlops_assets.serving"],
                env=server_env,
                stdout=log,
                stderr=log,
            )
            try:
                wait_http(f"{url}/ready", server, log_path)
                body = json.dumps({"instances": [PHOTO]}).encode()
                ours = latency_throughput(port, body, "/predict")
                recorded = httpx.get(f"{url}/model", timeout=10).json()["recorder"]
                swapping = swaps_under_load(url, port, registry, versions)
                rollback = rollback_times(
                    url, registry, {**env, "MLOPS_SERVING_URL": url}, versions
                )
            finally:
                server.terminate()
                server.wait(30)
        plain = without_recording(env)
        theirs = mlflow_serve(env, f"models:/{registry.model_name}/{versions[0]}")
        bare = bare_fastapi(env, registry, versions[0])
        registry.promote(versions[0], "bench")
        ours_two_workers = two_workers(env)
        overhead = {
            "in_process": middleware_cost_us(),
            "1": metrics_overhead(env, clients=1),
            "4": metrics_overhead(env, clients=4),
        }

    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "model": "demo CNN, default hyperparameters (filters 32, dense 64), one 8x8 photo",
        "swap_hold_in_process": hold,
        "swaps_under_load": swapping,
        "http_single_photo": {
            "ours": ours,
            "ours_2_workers": ours_two_workers,
            "mlflow_models_serve": theirs,
            "bare_fastapi_same_function": bare,
            "req_per_s_ratio": {
                n: round(ours[n]["req_per_s"] / theirs[n]["req_per_s"], 1) for n in ("1", "4")
            },
        },
        "prediction_recorder": {
            "overhead": recording_overhead(ours, plain),
            "counters_after_load": recorded,
        },
        "rollback": rollback,
        "metrics_overhead": overhead,
        "targets": {
            "swap_hold_p99_us": "< 1000",
            "failed_requests_during_swaps": 0,
            "p99_ms_4_clients": "<= 5",
            "req_per_s_ratio_vs_mlflow": ">= 20",
            "rollback_to_old_version_s": "< 2",
            "recorder_p99_overhead_pct": "<= 10",
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    if "--metrics" in sys.argv[1:]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        metrics_only()
    else:
        main()
