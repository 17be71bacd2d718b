"""Benchmark: the face verifier trained and evaluated on 5,000 synthetic identities × 10 vectors,
and the fleet file's parse time with 1, 10 and 50 declared models.

Face verifier: 15 % of the identities are the holdout (identity-disjoint); the rest train it
(`train_face_verifier`: 80 % fit Fisher's projection, 20 % fit the threshold for FAR = 1e-3).
Timed: generating the synthetic vectors, training, and evaluating (TAR at the fitted threshold,
EER, rank-1 on the holdout, 500,000 sampled impostor pairs), with CPU seconds of this process
beside wall seconds (the machine is shared). Also, in the same run: the projection's fit
alone, raw cosine on the same holdout (no projection: the peer), the trained verifier on
new-camera vectors (no retraining), and the single-pair `verify` latency.

Writes bench/results/fleet.json. Usage: python bench/fleet.py (BENCH_FACE_IDENTITIES=5000)
"""

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import yaml

from mlops_assets.contracts.fleet import SHIPPED_FLEET_FILE, parse_fleet
from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml import face_metrics
from mlops_assets.ml.face_verifier import (
    DEFAULT_COMPONENTS,
    fit_projection,
    train_face_verifier,
    verify_latency,
)

RESULTS = Path(__file__).parent / "results" / "fleet.json"
IDENTITIES = int(os.environ.get("BENCH_FACE_IDENTITIES", "5000"))
PER_IDENTITY = 10
HOLDOUT_FRACTION = 0.15
TARGET_FAR = 1e-3


class Timer:
    def __enter__(self) -> "Timer":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_) -> None:
        self.wall = round(time.perf_counter() - self.wall, 2)
        self.cpu = round(time.process_time() - self.cpu, 2)


def rounded(metrics: face_metrics.FaceVerificationMetrics) -> dict:
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in metrics.as_dict().items()}


def face_verifier_figures() -> dict:
    with Timer() as generate:
        vectors, identities = synthetic_face_vectors(IDENTITIES, PER_IDENTITY, seed=1)
    train, holdout = face_metrics.identity_disjoint_split(identities, HOLDOUT_FRACTION, seed=0)
    with Timer() as training:
        verifier = train_face_verifier(vectors[train], identities[train], TARGET_FAR)
    with Timer() as evaluation:
        metrics = face_metrics.evaluate(
            verifier.embed(vectors[holdout]), identities[holdout], verifier.threshold
        )
    with Timer() as fit:
        fit_projection(vectors[train], identities[train], DEFAULT_COMPONENTS)
    raw = face_metrics.evaluate(vectors[holdout], identities[holdout], verifier.threshold)
    shifted, shifted_ids = synthetic_face_vectors(
        int(IDENTITIES * HOLDOUT_FRACTION), PER_IDENTITY, seed=2, camera=1
    )
    stale = face_metrics.evaluate(verifier.embed(shifted), shifted_ids, verifier.threshold)
    latency = verify_latency(verifier, vectors[holdout], samples=1000, warmup=50)
    return {
        "identities": IDENTITIES,
        "vectors_per_identity": PER_IDENTITY,
        "dimension": int(vectors.shape[1]),
        "train_identities": int(len(np.unique(identities[train]))),
        "holdout_identities": int(len(np.unique(identities[holdout]))),
        "generate_s": generate.wall,
        "train_s": training.wall,
        "train_cpu_s": training.cpu,
        "evaluate_s": evaluation.wall,
        "evaluate_cpu_s": evaluation.cpu,
        "train_plus_evaluate_s": round(training.wall + evaluation.wall, 2),
        "target_train_plus_evaluate_s": "< 60",
        "projection_fit_alone_s": fit.wall,
        "projection_fit_alone_cpu_s": fit.cpu,
        "holdout": rounded(metrics),
        "holdout_raw_cosine_at_the_same_threshold": rounded(raw),
        "new_camera_without_retraining": rounded(stale),
        "verify_latency_ms": {k: round(v * 1000, 4) for k, v in latency.items()},
    }


def fleet_parse_figures() -> dict:
    template = yaml.safe_load(SHIPPED_FLEET_FILE.read_text())["models"][0]
    figures = {}
    for count in (1, 10, 50):
        models = [
            {
                **template,
                "name": f"model_{i}",
                "registry_name": f"model-{i}",
                "serving_route": f"/models/model_{i}",
            }
            for i in range(count)
        ]
        text = yaml.safe_dump({"models": models}, sort_keys=False)
        started = time.perf_counter()
        rounds = 20
        for _ in range(rounds):
            parse_fleet(text)
        figures[f"{count}_models_ms"] = round((time.perf_counter() - started) / rounds * 1000, 2)
    return figures


def main() -> None:
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "face_verifier": face_verifier_figures(),
        "fleet_file_parse": fleet_parse_figures(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
