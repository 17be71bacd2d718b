"""Command line: `mlops-assets demo | seed-demo | health`."""

import argparse
import logging
import os
import sys

import dagster as dg

from mlops_assets import health
from mlops_assets.definitions import build_definitions, build_resources
from mlops_assets.demo_source import demo_tasks
from mlops_assets.settings import Settings

log = logging.getLogger("mlops_assets")


def seed_demo(settings: Settings) -> int:
    """Fills the training data store with the demo's confirmed tasks (idempotent)."""
    store = build_resources(settings)["data_store"]
    added = store.insert(demo_tasks())
    log.info("data store %s: %d new records, %d in all", store.url, added, store.count())
    store.close()
    return added


def run_retraining(settings: Settings) -> dg.ExecuteInProcessResult:
    """Runs `retrain_job` on the Dagster instance under DAGSTER_HOME (visible in `dagster dev`)."""
    job = build_definitions(settings).get_job_def("retrain_job")
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def demo(settings: Settings) -> int:
    seed_demo(settings)
    result = run_retraining(settings)
    registry = build_resources(settings)["model_registry"]
    champion = registry.champion()
    log.info("retrain_job run %s: %s", result.run_id, "success" if result.success else "FAILED")
    if champion is None:
        log.error("no champion in the registry: see the run's logs with `make dev`")
        return 1
    log.info("champion: %s v%s (%s)", champion.name, champion.version, registry.tracking_uri)
    log.info("look at it: `make dev` -> http://127.0.0.1:3000 (Dagster), `make mlflow-ui`")
    return 0


def check_health(settings: Settings) -> int:
    """Prints each configured backend and whether it answers; 1 if any does not."""
    logging.getLogger("botocore").setLevel(logging.WARNING)
    results = health.check_all(settings)
    sys.stdout.write(health.render(results) + "\n")
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    parser.add_argument("command", choices=["demo", "seed-demo", "health"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "health":
        return check_health(Settings())
    if "DAGSTER_HOME" not in os.environ:
        parser.error("DAGSTER_HOME is not set: run through `make demo` or export DAGSTER_HOME")
    settings = Settings()
    if args.command == "seed-demo":
        seed_demo(settings)
        return 0
    return demo(settings)


if __name__ == "__main__":
    raise SystemExit(main())
