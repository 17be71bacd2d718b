"""Hardening: what one hostile input costs (issue 26, items 1-3), before and after the fix.

1. /predict: 5,403 photos of -1 (1 MB, compact JSON) against a real uvicorn server (tiny CNN
   served, MLOPS_SERVING_MAX_BATCH 256): the answer's status, size, problem count and time,
   and a /health sent while the hostile request is handled; once with the default body bound
   and once with MLOPS_SERVING_MAX_BODY_BYTES raised to 2 MB (so the body reaches validation).
2. Task events: one 20 MB event, and a queue of 5 of them, drained by `replicate` (the
   task_events_sensor's drain, embedded SQLite queue and store): time, the process's peak
   memory (each case in a fresh process), what became of the messages.
3. Push: b"[" * 100_000 then a valid ModelPromoted on `model.events` (embedded queue): whether
   the promotion still notifies within 10 s, and what is left on the queue.

Each case runs in a spawned process with the code on its PYTHONPATH, so the same script
measures an older checkout: `PYTHONPATH=<checkout> python bench/hardening.py before`.
Merges its label's figures into bench/results/hardening.json. Usage:
python bench/hardening.py [after|before]
"""

import http.client
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "hardening.json"
HOSTILE_PHOTOS = 5403
EVENT_BYTES = 20 * 1024 * 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _serve(app):
    import uvicorn

    from mlops_assets.tools.processes import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, port


def _post(port: int, body: bytes) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    content = response.read()
    conn.close()
    return response.status, content, time.perf_counter() - started


def _health(port: int, delay_s: float, out: dict) -> None:
    time.sleep(delay_s)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", "/health")
    conn.getresponse().read()
    out["health_s"] = round(time.perf_counter() - started, 4)
    conn.close()


def predict_case(max_body_bytes: int | None) -> dict:
    """Item 1: the hostile batch against a real server; /health asked 50 ms into it."""
    from mlops_assets.serving.app import create_app
    from mlops_assets.serving.config import ServingSettings
    from mlops_assets_tests.support.serving import FolderSource, tiny_model

    folder = Path(tempfile.mkdtemp(prefix=f"bench-hardening-{os.getpid()}-"))
    source = FolderSource(folder)
    source.add("1", tiny_model(1))
    source.alias = "1"
    overrides = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    settings = ServingSettings(
        poll_interval_s=0, max_batch=256, record_predictions=False, push=False, **overrides
    )
    server, thread, port = _serve(create_app(settings, source))
    hostile = json.dumps({"instances": [[-1] * 64] * HOSTILE_PHOTOS}, separators=(",", ":"))
    try:
        health: dict = {}
        asking = threading.Thread(target=_health, args=(port, 0.05, health))
        asking.start()
        status, content, seconds = _post(port, hostile.encode())
        asking.join()
    finally:
        server.should_exit = True
        thread.join(30)
    listed = total = None
    if content.startswith(b"{"):
        answer = json.loads(content)
        if isinstance(answer.get("detail"), list):
            listed = len(answer["detail"])
            total = answer.get("total", listed)
    return {
        "body_bytes": len(hostile),
        "status": status,
        "answer_bytes": len(content),
        "problems_listed": listed,
        "problems_total": total,
        "seconds": round(seconds, 4),
        "health_during_s": health.get("health_s"),
    }


def _huge_event() -> bytes:
    # The shape of the event: a valid-looking event whose photo is 20 MB of zeros.
    zeros = b"0," * (EVENT_BYTES // 2 - 1) + b"0"
    head = (
        b'{"event_id":"huge","schema_version":1,"event_type":"TaskConfirmedEvent",'
        b'"task_id":"t","confirmed_at":"2025-01-01T00:00:00Z","label":1,"source":"bench",'
        b'"pixels":['
    )
    return head + zeros + b"]}"


def events_case(count: int) -> dict:
    """Item 2: `count` 20 MB events drained by replicate (one tick's bounds)."""
    from mlops_assets.backends.data_store import TrainingDataStore
    from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
    from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
    from mlops_assets.retraining.replication import replicate

    folder = Path(tempfile.mkdtemp(prefix=f"bench-hardening-{os.getpid()}-"))
    queue = SqliteQueue(str(folder / "events.db"))
    store = TrainingDataStore(f"sqlite:///{folder / 'store.db'}")
    body = _huge_event()
    for _ in range(count):
        queue.publish_bodies(TASK_CONFIRMED_QUEUE, [body])
    del body
    baseline = _peak_mb()
    started = time.perf_counter()
    outcome = replicate(queue, store, max_messages=20_000, max_seconds=60)
    seconds = time.perf_counter() - started
    letters = queue.dead_letters(TASK_CONFIRMED_QUEUE, 1)
    return {
        "events": count,
        "event_bytes": EVENT_BYTES,
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(_peak_mb(), 1),
        "rss_before_mb": round(baseline, 1),
        "dead_lettered": outcome.dead_lettered,
        "batches": outcome.batches,
        "reason": letters[0].reason[:120] if letters else None,
    }


def push_case() -> dict:
    """Item 3: a poison message ahead of a promotion on model.events."""
    from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
    from mlops_assets.contracts.events import MODEL_EVENTS_QUEUE, ModelPromoted
    from mlops_assets.serving.push import ModelEventSubscriber

    folder = Path(tempfile.mkdtemp(prefix=f"bench-hardening-{os.getpid()}-"))
    path = str(folder / "events.db")
    publisher = SqliteQueue(path)
    promotion = ModelPromoted(model_name="m", version="2", reason="bench")
    publisher.publish_bodies(MODEL_EVENTS_QUEUE, [b"[" * 100_000, promotion.to_json()])
    notified = threading.Event()
    subscriber = ModelEventSubscriber(
        lambda: SqliteQueue(path), "m", lambda reason: notified.set(), 0.05, retry_s=0.5
    )
    started = time.perf_counter()
    subscriber.start()
    arrived = notified.wait(10)
    seconds = time.perf_counter() - started
    subscriber.close()
    return {
        "promotion_notified": arrived,
        "seconds_to_notify": round(seconds, 3) if arrived else None,
        "left_on_queue": publisher.depth(MODEL_EVENTS_QUEUE),
        "dead_lettered": len(publisher.dead_letters(MODEL_EVENTS_QUEUE)),
    }


def _child(name: str, arg, results) -> None:
    cases = {"predict": predict_case, "events": events_case, "push": lambda _: push_case()}
    try:
        results.put(cases[name](arg))
    except Exception as error:  # a case the old code cannot run still reports why
        results.put({"error": f"{type(error).__name__}: {error}"[:300]})
    finally:
        for folder in Path(tempfile.gettempdir()).glob(f"bench-hardening-{os.getpid()}-*"):
            shutil.rmtree(folder, ignore_errors=True)


def run(name: str, arg=None) -> dict:
    """Runs one case in a fresh spawned process (its own peak memory)."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=_child, args=(name, arg, results))
    process.start()
    result = results.get(timeout=600)
    process.join(60)
    return result


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else "after"
    figures = {
        "predict_default_body_bound": run("predict", None),
        "predict_body_bound_2mb": run("predict", 2 << 20),
        "one_20mb_event": run("events", 1),
        "five_20mb_events": run("events", 5),
        "push_poison_then_promotion": run("push"),
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = f"{platform.machine()}, {mp.cpu_count()} CPUs, Python {sys.version[:6]}"
    results[label] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(json.dumps({label: figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
