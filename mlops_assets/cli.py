"""Command line: `mlops-assets demo | seed-demo | rollback`."""

import argparse
import logging
import os
import time

import dagster as dg

from mlops_assets.settings import Settings

log = logging.getLogger("mlops_assets")


def seed_demo(settings: Settings) -> int:
    """Fills the training data store with the demo's confirmed tasks (idempotent)."""
    from mlops_assets.definitions import build_resources
    from mlops_assets.demo_source import demo_tasks

    store = build_resources(settings)["data_store"]
    added = store.insert(demo_tasks())
    log.info("data store %s: %d new records, %d in all", store.url, added, store.count())
    store.close()
    return added


def run_retraining(settings: Settings) -> dg.ExecuteInProcessResult:
    """Runs `retrain_job` on the Dagster instance under DAGSTER_HOME (visible in `dagster dev`)."""
    from mlops_assets.definitions import build_definitions

    job = build_definitions(settings).get_job_def("retrain_job")
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def demo(settings: Settings) -> int:
    from mlops_assets.definitions import build_resources

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


def rollback(settings: Settings, reason: str) -> int:
    """Moves @champion back to the version it replaced and waits for the server to serve it.

    The same steps as `rollback_champion_job`, without building the Definitions: those import
    TensorFlow (seconds), and a rollback should take well under two seconds.
    """
    from mlops_assets.assets.deployment import ChampionMoved, follow, on_champion_rolled_back
    from mlops_assets.resources.registry import ModelRegistry
    from mlops_assets.resources.serving_client import ServingClient

    started = time.perf_counter()
    registry = ModelRegistry(
        tracking_uri=settings.resolved_tracking_uri,
        model_name=settings.model_name,
        ui_url=settings.mlflow_ui_url,
    )
    serving_client = ServingClient(
        url=settings.serving_url,
        timeout_s=settings.serving_timeout_s,
        admin_token=settings.serving_admin_token,
    )
    try:
        rolled_from, restored = registry.rollback(reason)
    except ValueError as error:
        log.error("%s", error)
        return 1
    moved = ChampionMoved(
        model_name=registry.model_name,
        version=restored,
        previous_version=rolled_from,
        reason=reason,
        server_following=follow(log, serving_client, restored, reason),
    )
    on_champion_rolled_back(log, moved)
    if moved.server_following is None:
        log.info("no inference server configured (MLOPS_SERVING_URL): servers follow by polling")
    elif moved.server_following:
        log.info("%s serves v%s", settings.serving_url, restored)
    log.info(
        "rollback v%s -> v%s took %.2f s", rolled_from, restored, time.perf_counter() - started
    )
    return 0 if moved.server_following is not False else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    parser.add_argument("command", choices=["demo", "seed-demo", "rollback"])
    parser.add_argument(
        "--reason", default="rollback on demand", help="rollback: why, kept in the history"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "rollback":
        return rollback(Settings(), args.reason)
    if "DAGSTER_HOME" not in os.environ:
        parser.error("DAGSTER_HOME is not set: run through `make demo` or export DAGSTER_HOME")
    settings = Settings()
    if args.command == "seed-demo":
        seed_demo(settings)
        return 0
    return demo(settings)


if __name__ == "__main__":
    raise SystemExit(main())
