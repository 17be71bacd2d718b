"""Benchmark: what the paired champion/challenger comparison costs.

- McNemar's exact test with Newcombe's interval and the power figure
  (`retraining.paired.compare_correctness`) on a 150-photo holdout and on 50,000 samples;
- the paired bootstrap over identities (`retraining.paired_bootstrap`) of TAR at the fitted
  threshold with 1,000 resamples on a holdout of 5,000 synthetic identities × 10 vectors, two
  synthetic verifiers (Fisher's projection with 64 and with 8 components, trained on other
  identities);
- the same for EER, whose resamples also draw 100,000 impostor pairs each
  (BENCH_EER_RESAMPLES, default 1,000; BENCH_SKIP_RESAMPLING=1 skips both);
- the vectorised identity bootstrap (`retraining.verification_bootstrap.verifier_bootstrap`)
  of TAR and EER, 1,000 resamples, on the same holdout.

Wall seconds and CPU seconds of this process (the machine is shared). Writes
bench/results/paired.json. Usage: python bench/paired.py (BENCH_PAIRED_IDENTITIES=5000)
"""

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml.face_verifier import train_face_verifier
from mlops_assets.retraining.paired import compare_correctness
from mlops_assets.retraining.paired_bootstrap import paired_bootstrap, verification_metric
from mlops_assets.retraining.verification_bootstrap import verifier_bootstrap

RESULTS = Path(__file__).parent / "results" / "paired.json"
IDENTITIES = int(os.environ.get("BENCH_PAIRED_IDENTITIES", "5000"))
EER_RESAMPLES = int(os.environ.get("BENCH_EER_RESAMPLES", "1000"))
# The resampling bootstrap's EER takes minutes (448 s measured): BENCH_SKIP_RESAMPLING=1 skips it.
SKIP_RESAMPLING = os.environ.get("BENCH_SKIP_RESAMPLING") == "1"
PER_IDENTITY = 10
RESAMPLES = 1000


class Timer:
    def __enter__(self) -> "Timer":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_) -> None:
        self.wall = round(time.perf_counter() - self.wall, 3)
        self.cpu = round(time.process_time() - self.cpu, 3)


def mcnemar_figures() -> dict:
    rng = np.random.default_rng(0)
    figures = {}
    for n in (150, 50_000):
        champion = rng.random(n) < 0.96
        # The challenger fixes 30 % of the champion's errors and breaks 0.5 % of its answers.
        fixed, broken = rng.random(n) < 0.30, rng.random(n) < 0.005
        challenger = np.where(champion, ~broken, fixed)
        with Timer() as timer:
            result = compare_correctness(challenger, champion)
        figures[f"n_{n}"] = {"wall_s": timer.wall, "cpu_s": timer.cpu, "reason": result.reason}
    return figures


def bootstrap_figures() -> dict:
    train, train_ids = synthetic_face_vectors(2000, PER_IDENTITY, seed=1)
    holdout, holdout_ids = synthetic_face_vectors(IDENTITIES, PER_IDENTITY, seed=2)
    models = {
        "strong": train_face_verifier(train, train_ids, components=64, seed=0),
        "weak": train_face_verifier(train, train_ids, components=8, seed=0),
    }
    embedded = {name: model.embed(holdout) for name, model in models.items()}
    figures = {}
    for metric, resamples, higher in (
        ("tar_at_far", RESAMPLES, True),
        ("eer", EER_RESAMPLES, False),
    ):
        challenger, champion = (
            verification_metric(
                embedded[name], holdout_ids, models[name].threshold, metric, 100_000
            )
            for name in ("strong", "weak")
        )
        with Timer() as timer:
            result = paired_bootstrap(
                challenger,
                champion,
                holdout_ids,
                metric=metric,
                higher_is_better=higher,
                resamples=resamples,
                seed=0,
            )
        figures[metric] = {
            "resamples": resamples,
            "wall_s": timer.wall,
            "cpu_s": timer.cpu,
            "wall_ms_per_resample": round(1000 * timer.wall / resamples, 2),
            "reason": result.reason,
        }
    return figures


def weighted_figures() -> dict:
    """The vectorised identity bootstrap (`retraining.verification_bootstrap`): the same
    holdout and verifiers, pairs scored once and reweighted per resample."""
    train, train_ids = synthetic_face_vectors(2000, PER_IDENTITY, seed=1)
    holdout, holdout_ids = synthetic_face_vectors(IDENTITIES, PER_IDENTITY, seed=2)
    models = {
        "strong": train_face_verifier(train, train_ids, components=64, seed=0),
        "weak": train_face_verifier(train, train_ids, components=8, seed=0),
    }
    embedded = {name: (model.embed(holdout), model.threshold) for name, model in models.items()}
    figures = {}
    for metric in ("tar_at_far", "eer"):
        with Timer() as timer:
            result = verifier_bootstrap(
                embedded["strong"], embedded["weak"], holdout_ids, metric, resamples=RESAMPLES
            )
        figures[metric] = {
            "resamples": RESAMPLES,
            "wall_s": timer.wall,
            "cpu_s": timer.cpu,
            "wall_ms_per_resample": round(1000 * timer.wall / RESAMPLES, 2),
            "reason": result.reason,
        }
    return figures


def main() -> None:
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_average_at_start": round(os.getloadavg()[0], 1),
        "identities": IDENTITIES,
        "vectors_per_identity": PER_IDENTITY,
        "mcnemar": mcnemar_figures(),
        "weighted_bootstrap": weighted_figures(),
    }
    if not SKIP_RESAMPLING:
        figures["bootstrap"] = bootstrap_figures()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
