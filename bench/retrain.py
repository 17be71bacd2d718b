"""Benchmark: one full retraining run on embedded defaults, timed per stage.

Also times the serving predictor's single-sample call against `model.predict` in the same
process, and the overhead of training the same model in a trainer process through Dagster Pipes
(`python -m mlops_assets.ml.trainer`) against training it in-process: `trained_model` alternates
between the two paths, REPEATS runs each, medians. Writes bench/results/retrain.json. Run with
`make bench` or `python bench/retrain.py`.
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.replay import STAGES, stage_seconds
from mlops_assets.demo.source import demo_tasks
from mlops_assets.demo.spec import DEMO_NAMES as PHOTO
from mlops_assets.ml.data import to_arrays
from mlops_assets.ml.predictor import Predictor, measure_latency
from mlops_assets.settings import Settings

RESULTS = Path(__file__).parent / "results" / "retrain.json"
# A month with eleven months of demo photos before it: 1,650 to train on, 150 held out.
MONTH = "2024-12-01"
REPEATS = 3
BUILT_IN_TRAINER = [sys.executable, "-m", "mlops_assets.ml.trainer"]


def predict_call_seconds(predictor: Predictor, x: np.ndarray, calls: int = 100) -> float:
    for i in range(5):
        predictor.model.predict(x[i : i + 1], verbose=0)
    started = time.perf_counter()
    for i in range(calls):
        predictor.model.predict(x[i % len(x)][None], verbose=0)
    return (time.perf_counter() - started) / calls


def trainer_paths(job, instance) -> dict:
    """`trained_model` in-process and as a Pipes trainer process, alternating; medians."""
    seen: dict[str, dict[str, list[float]]] = {"in_process": {}, "subprocess": {}}
    for _ in range(REPEATS):
        for path, trainer in (("in_process", "built-in"), ("subprocess", "subprocess")):
            config = {
                "ops": {
                    PHOTO.key("trained_model").to_python_identifier(): {
                        "config": {"trainer": trainer}
                    }
                }
            }
            result = job.execute_in_process(
                run_config=config, instance=instance, partition_key=MONTH, raise_on_error=False
            )
            (meta,) = [
                e.materialization.metadata
                for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "trained_model"
            ]
            report = result.output_for_node(PHOTO.key("verification_report").to_python_identifier())
            figures = seen[path]
            figures.setdefault("trained_model_s", []).append(
                stage_seconds(instance, result.run_id)["trained_model"]
            )
            figures.setdefault("training_s", []).append(meta["training_seconds"].value)
            figures.setdefault("holdout_accuracy", []).append(report.challenger.accuracy)
    medians = {
        path: {k: round(statistics.median(v), 3) for k, v in figures.items()}
        for path, figures in seen.items()
    }
    return {
        "repeats": REPEATS,
        **medians,
        "subprocess_overhead_s": round(
            medians["subprocess"]["trained_model_s"] - medians["in_process"]["trained_model_s"], 2
        ),
        "same_model": seen["in_process"]["holdout_accuracy"]
        == seen["subprocess"]["holdout_accuracy"],
        "note": "training_s: in-process = model.fit only; subprocess = the trainer process "
        "from start to exit (interpreter, TensorFlow import, data file, fit, save)",
    }


def main() -> None:
    # MLflow exports MLFLOW_TRACKING_URI; this benchmark always measures the embedded defaults.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), trainers={"subprocess": BUILT_IN_TRAINER})
        store = factory.data_store(settings)
        store.insert(demo_tasks())
        job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            result = job.execute_in_process(instance=instance, partition_key=MONTH)
            total = time.perf_counter() - started
            stages = stage_seconds(instance, result.run_id)
            trainer_overhead = trainer_paths(job, instance)
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
        "trainer_process_vs_in_process": trainer_overhead,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
