"""The automation part of the fleet benchmark (`bench/fleet.py automation`): the declarative
automation evaluation of one tick over 3, 10 and 50 models, and the daemon's ticks from an
upstream promotion to the downstream run's start.

Both run on the hand-built fleet of the automation tests (`mlops_assets_tests/support/
automation_fleet.py`: each model's five retraining stages with the factory's conditions and
sensors, assets that only record metadata), because the shipped factory admits an upstream
only for an upstream_models model with one photo and one face upstream: a 50-model chain of
real graphs cannot be declared. Every third model is downstream of the one before it.
"""

import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
# The hand-built fleet lives with the tests; `python bench/fleet.py` puts only bench/ on the path.
sys.path.insert(0, str(ROOT))

from mlops_assets.graph.model_names import ModelNames  # noqa: E402
from mlops_assets.graph.partitions import monthly_partitions  # noqa: E402
from mlops_assets.tools import processes  # noqa: E402
from mlops_assets_tests.support.automation_fleet import (  # noqa: E402
    automated_fleet,
    champion_run_config,
    spec,
)

MONTH = "2026-03-01"
QUIET = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
TICKS = 5


def chain_fleet(count: int) -> list:
    return [
        spec(f"model_{i}", [f"model_{i - 1}"] if i % 3 == 2 else [], cadence="0 2 * * *")
        for i in range(count)
    ]


def _record(instance: dg.DagsterInstance, key: dg.AssetKey, metadata: dict) -> None:
    event = dg.AssetMaterialization(key, partition=MONTH, metadata=metadata)
    instance.report_runless_asset_event(event)


def evaluation_figures() -> dict:
    """Median seconds of one automation tick over every model's conditions (wall and CPU), over
    TICKS quiet ticks after the first; the tick that sees one upstream promotion per chain; and
    one model group's tick (one automation sensor's share, as the daemon evaluates them)."""
    figures = {}
    for count in (3, 10, 50):
        models = chain_fleet(count)
        defs = automated_fleet(models)
        with dg.instance_for_test() as instance:
            for model in models:
                names = ModelNames(model.name)
                _record(instance, names.champion_model, {"champion_version": "1"})
                recorded = {f"upstream_{u}_version": "1" for u in model.upstream}
                _record(instance, names.training_data, recorded)
            cursor, times, cpu = None, [], []
            for tick in range(TICKS + 1):
                started, started_cpu = time.perf_counter(), time.process_time()
                at = QUIET + dt.timedelta(seconds=30 * tick)
                result = dg.evaluate_automation_conditions(
                    defs=defs, instance=instance, cursor=cursor, evaluation_time=at
                )
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                cursor = result.cursor
            # What the daemon runs per sensor: one downstream model's group.
            group, group_cursor, group_times = dg.AssetSelection.groups("model_2"), None, []
            for tick in range(TICKS + 1):
                started = time.perf_counter()
                group_cursor = dg.evaluate_automation_conditions(
                    defs=defs,
                    instance=instance,
                    asset_selection=group,
                    cursor=group_cursor,
                    evaluation_time=QUIET + dt.timedelta(seconds=30 * tick),
                ).cursor
                group_times.append(time.perf_counter() - started)
            for model in models:
                if model.upstream:
                    upstream = ModelNames(model.upstream[0]).champion_model
                    _record(instance, upstream, {"champion_version": "2"})
            started = time.perf_counter()
            at = QUIET + dt.timedelta(seconds=30 * (TICKS + 1))
            result = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=cursor, evaluation_time=at
            )
            promoted_s = time.perf_counter() - started
        figures[f"{count}_models"] = {
            "assets": count * 5,
            "first_tick_s": round(times[0], 3),
            "tick_median_s": round(statistics.median(times[1:]), 3),
            "tick_median_cpu_s": round(statistics.median(cpu[1:]), 3),
            "one_group_tick_median_s": round(statistics.median(group_times[1:]), 3),
            "tick_with_promotions_s": round(promoted_s, 3),
            "assets_requested_on_promotion": result.total_requested,
        }
    figures["target_50_models_tick_s"] = "< 2"
    return figures


def _downstream_runs(instance) -> list[dg.DagsterRun]:
    key = ModelNames("down").training_data
    return [r for r in instance.get_runs() if key in (r.asset_selection or set())]


def _wait(probe, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise TimeoutError("the daemon did not get there")


def daemon_figures() -> dict:
    """`dagster-daemon run` on support/automation_workspace.py: promote `up`, count `down`'s
    automation sensor ticks up to the downstream run's creation."""
    from mlops_assets_tests.support.automation_workspace import defs

    month = monthly_partitions.get_last_partition_key()
    sensor = ModelNames("down").automation_sensor
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        with dg.DagsterInstance.from_config(str(home)) as instance:

            def run(model, **champion):
                keys = set(ModelNames(model).retraining_keys)
                job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=keys)
                config = champion_run_config(model, **champion) if champion else None
                job.execute_in_process(instance=instance, partition_key=month, run_config=config)

            def ticks():
                states = [s for s in instance.all_instigator_state() if s.name == sensor]
                if not states:
                    return []
                return instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id)

            run("up", version="1", previous="none")
            run("down")
            before = {r.run_id for r in _downstream_runs(instance)}
            daemon = subprocess.Popen(
                [
                    str(processes.venv_binary("dagster-daemon")),
                    "run",
                    "-m",
                    "mlops_assets_tests.support.automation_workspace",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                _wait(ticks, 300)
                run("up", version="2", previous="1")
                promoted = time.time()
                new = _wait(
                    lambda: [r for r in _downstream_runs(instance) if r.run_id not in before], 300
                )
                record = instance.get_run_record_by_id(new[0].run_id)
                created = record.create_timestamp.timestamp()
                counted = [t for t in ticks() if promoted <= t.timestamp <= created + 1]
            finally:
                os.killpg(daemon.pid, signal.SIGTERM)
                daemon.wait(timeout=60)
    return {
        "sensor_interval_s": 30,
        "ticks_from_promotion_to_run": len(counted),
        "seconds_from_promotion_to_run": round(created - promoted, 1),
        "target_ticks": "<= 2",
    }


def automation_figures() -> dict:
    return {"evaluation": evaluation_figures(), "daemon": daemon_figures()}
