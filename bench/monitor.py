"""Benchmark: one champion-monitor evaluation over 100k recorded predictions and 10k confirmed
tasks, and the prediction recorder's cost on the request path.

The monitor part times what `champion_monitor` does after loading the champion: read the
window's served predictions from the prediction log (Parquet files in a local object store),
read the window's confirmed tasks and the reference months from the training data store
(SQLite), join them by task id, score the unjoined tasks with the demo CNN (default
hyperparameters), and run the drift tests. The recorder part times `PredictionRecorder.record`
per request and its writer's throughput.

Writes bench/results/monitor.json. Run with `make bench` or `python bench/monitor.py`.
"""

import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results" / "monitor.json"
PREDICTIONS = 100_000
CONFIRMED = 10_000
WINDOW_END = datetime(2025, 5, 1, tzinfo=UTC)
WINDOW = (WINDOW_END - timedelta(days=7), WINDOW_END)


def records(count: int, start: datetime, span: timedelta, prefix: str, rng):
    from mlops_assets.contracts.records import TaskRecord

    pixels = rng.integers(0, 17, size=(count, 64), dtype=np.uint8)
    offsets = np.sort(rng.uniform(0, span.total_seconds(), size=count))
    return [
        TaskRecord(
            event_id=str(uuid.uuid4()),
            task_id=f"{prefix}-{i}",
            confirmed_at=start + timedelta(seconds=float(offsets[i])),
            label=int(rng.integers(0, 10)),
            pixels=pixels[i].tobytes(),
            source="bench",
        )
        for i in range(count)
    ]


def served_rows(count: int, rng) -> pd.DataFrame:
    seconds = rng.uniform(0, (WINDOW[1] - WINDOW[0]).total_seconds(), size=count)
    return pd.DataFrame(
        {
            "served_at": pd.Timestamp(WINDOW[0]) + pd.to_timedelta(np.sort(seconds), unit="s"),
            "model_version": "1",
            "label": rng.integers(0, 10, size=count).astype(np.int16),
            "confidence": rng.uniform(0.5, 1, size=count).astype(np.float32),
            # Half the confirmed tasks were served with their task id.
            "task_id": [f"window-{i}" if i < CONFIRMED // 2 else None for i in range(count)],
            "mean_grey": rng.uniform(0, 1, size=count).astype(np.float32),
            "grey_spread": rng.uniform(0, 1, size=count).astype(np.float32),
            "ink_share": rng.uniform(0, 1, size=count).astype(np.float32),
        }
    )


def monitor_figures(home: Path) -> dict:
    from mlops_assets.backends.data_store import TrainingDataStore
    from mlops_assets.backends.object_store import LocalObjectStore
    from mlops_assets.backends.prediction_log import PredictionLog
    from mlops_assets.demo.spec import drift_thresholds
    from mlops_assets.ml.model import TrainSettings, build_model
    from mlops_assets.ml.predictor import Predictor
    from mlops_assets.retraining.monitoring import gather_inputs, monitor_report
    from mlops_assets.retraining.watch import reference_month

    rng = np.random.default_rng(0)
    store = TrainingDataStore(f"sqlite:///{home / 'store.db'}")
    ref_start, ref_end = reference_month("2025-03-01")
    store.insert(records(1500, ref_start.to_pydatetime(), timedelta(days=30), "ref", rng))
    store.insert(records(CONFIRMED, WINDOW[0], timedelta(days=7), "window", rng))
    log = PredictionLog(LocalObjectStore(str(home / "objects")))
    frame = served_rows(PREDICTIONS, rng)
    for start in range(0, PREDICTIONS, 5000):  # the recorder's default batch
        log.write(frame.iloc[start : start + 5000])
    predictor = Predictor(build_model(TrainSettings()))
    predictor.warm_up()

    started = time.perf_counter()
    served = log.read(*WINDOW)
    read_log = time.perf_counter() - started
    reference = store.snapshot(since=ref_start.to_pydatetime(), until=ref_end.to_pydatetime())
    confirmed = store.snapshot(since=WINDOW[0], until=WINDOW[1])
    read_store = time.perf_counter() - started - read_log
    inputs = gather_inputs(
        lambda pixels: predictor.predict_pixels(pixels).labels,
        "1",
        reference,
        reference,
        confirmed,
        served,
    )
    report = monitor_report("1", WINDOW, inputs, drift_thresholds(), 0.9, "bench")
    total = time.perf_counter() - started
    store.close()
    return {
        "served_predictions": report.served_predictions,
        "confirmed_tasks": report.accuracy.n,
        "joined_to_served": report.accuracy.joined_served,
        "scored_now": report.accuracy.scored_now,
        "read_prediction_log_s": round(read_log, 3),
        "read_data_store_s": round(read_store, 3),
        "total_s": round(total, 3),
        "target_total_s": "< 10",
        "not_included": "downloading and loading @champion from MLflow (about 1 s, once per run)",
    }


def recorder_figures() -> dict:
    from mlops_assets.serving.recorder import PredictionRecorder, ServedBatch

    written = []
    recorder = PredictionRecorder(written.append, capacity=200_000, batch_size=5000)
    recorder.start()
    photo = np.full((1, 64), 8.0, np.float32)
    calls, timings = 50_000, []
    for i in range(calls):
        batch = ServedBatch(time.time(), "1", np.array([3]), np.array([0.9]), [f"t{i}"], photo)
        t0 = time.perf_counter_ns()
        recorder.record(batch)
        timings.append(time.perf_counter_ns() - t0)
    started = time.perf_counter()
    recorder.stop()
    drain = time.perf_counter() - started
    stats = recorder.stats()
    lat = np.array(timings) / 1000
    return {
        "record_calls": calls,
        "record_p50_us": round(float(np.percentile(lat, 50)), 2),
        "record_p99_us": round(float(np.percentile(lat, 99)), 2),
        "dropped": stats.dropped,
        "written": stats.written,
        "final_drain_s": round(drain, 3),
        "note": "the HTTP overhead (p99, req/s with and without recording) is in serving.json",
    }


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        monitor = monitor_figures(Path(tmp))
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "monitor": monitor,
        "recorder": recorder_figures(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
