"""Benchmark: one full retraining run on embedded defaults, timed per stage.

Also times the serving predictor's single-sample call against `model.predict` in the same
process. Writes bench/results/retrain.json. Run with `make bench` or `python bench/retrain.py`.
"""

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.replay import STAGES, stage_seconds
from mlops_assets.demo.source import demo_tasks
from mlops_assets.ml.data import to_arrays
from mlops_assets.ml.predictor import Predictor, measure_latency
from mlops_assets.settings import Settings

RESULTS = Path(__file__).parent / "results" / "retrain.json"
# A month with eleven months of demo photos before it: 1,650 to train on, 150 held out.
MONTH = "2024-12-01"


def predict_call_seconds(predictor: Predictor, x: np.ndarray, calls: int = 100) -> float:
    for i in range(5):
        predictor.model.predict(x[i : i + 1], verbose=0)
    started = time.perf_counter()
    for i in range(calls):
        predictor.model.predict(x[i % len(x)][None], verbose=0)
    return (time.perf_counter() - started) / calls


def main() -> None:
    # MLflow exports MLFLOW_TRACKING_URI; this benchmark always measures the embedded defaults.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        store = factory.data_store(settings)
        store.insert(demo_tasks())
        job = build_definitions(settings).resolve_job_def("retrain_job")
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            result = job.execute_in_process(instance=instance, partition_key=MONTH)
            total = time.perf_counter() - started
            stages = stage_seconds(instance, result.run_id)
        registry = factory.registry(settings)
        champion = registry.champion()
        path = registry.download_version(champion.version, home)
        predictor = Predictor.load(path, champion.sha256)
        x, _ = to_arrays(store.snapshot())
        profile = measure_latency(predictor, x, samples=500)
        predict_s = predict_call_seconds(predictor, x)
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "full_run_s": round(total, 2),
        "target_full_run_s": 60,
        "stages_s": {k: v for k, v in stages.items() if k in STAGES},
        "checks_s": round(sum(v for k, v in stages.items() if k not in STAGES), 3),
        "predictor_single_sample_ms": {
            "p50": round(profile.p50 * 1000, 3),
            "p95": round(profile.p95 * 1000, 3),
            "p99": round(profile.p99 * 1000, 3),
        },
        "model_predict_single_sample_ms_mean": round(predict_s * 1000, 3),
        "predict_over_predictor_p50_ratio": round(predict_s / profile.p50, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
