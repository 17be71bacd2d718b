"""Benchmark: the full two-year replay on embedded defaults, with per-month stage times, and
the same stream under the volume and evidence retraining policies (the `policies` table).

Writes bench/results/replay.json. Run with `make bench` or `python bench/replay.py`.
"""

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import dagster as dg

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.demo import policies, replay, report
from mlops_assets.demo.source import Scenario
from mlops_assets.demo.spec import DEMO_NAMES as PHOTO
from mlops_assets.settings import Settings

RESULTS = Path(__file__).parent / "results" / "replay.json"


def main() -> None:
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    scenario = Scenario()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        store, registry = factory.data_store(settings), factory.registry(settings)
        job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
        run_config = replay.QUIET
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            results = replay.run_replay(
                job,
                instance,
                scenario,
                deliver=store.insert,
                champion_version=lambda: c.version if (c := registry.champion()) else None,
                run_config=run_config,
            )
            total = time.perf_counter() - started
            policy_runs = policies.compare_policies(
                results,
                Path(home) / "policies",
                scenario,
                first_month=12,
                run_config=run_config,
            )
        store.close()
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "months_replayed": scenario.months,
        "months_decided": len(results),
        "photos": scenario.months * scenario.per_month,
        "total_s": round(total, 1),
        "target_total_s": 600,
        "mean_month_s": round(sum(r.seconds for r in results) / len(results), 2),
        "summary": report.summary(results),
        "policies": report.policies_table(policy_runs, scenario),
        "months": [
            {
                "month": r.month[:7],
                "decision": r.decision,
                "run_s": round(r.seconds, 2),
                "stages_s": r.stage_seconds,
            }
            for r in results
        ],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
