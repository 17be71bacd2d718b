"""The automation part of the fleet benchmark (`bench/fleet.py automation`): the declarative
automation evaluation of one tick over 3, 10 and 50 models, and the daemon's ticks from an
upstream promotion to the downstream run's start.

Both run on the hand-built fleet of the automation tests (`mlops_assets_tests/support/
automation_fleet.py`: each model's five retraining stages with the factory's conditions and
sensors, assets that only record metadata), because the shipped factory admits an upstream
only for an upstream_models model with one photo and one face upstream: a 50-model chain of
real graphs cannot be declared. Every third model is downstream of the one before it.

Each evaluation is timed in wall and CPU seconds of this process (the machine is shared), with
the load average before and after. The < 2 s target at 50 models is read on `fleet_tick`, every
model's conditions in one evaluation; a deployment runs one automation sensor per model group,
so the latency it sees per sensor tick is `group_tick`, and the daemon's work per interval is
`every_group_sensor_once` (each group's sensor once, one after another).
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


def _tick(defs, instance, cursor, tick: int, selection=None):
    """One evaluation at QUIET + `tick` sensor intervals: (result, wall s, CPU s)."""
    started, started_cpu = time.perf_counter(), time.process_time()
    result = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        asset_selection=selection,
        cursor=cursor,
        evaluation_time=QUIET + dt.timedelta(seconds=30 * tick),
    )
    return result, time.perf_counter() - started, time.process_time() - started_cpu


def _median(times: list[float]) -> float:
    return round(statistics.median(times), 3)


def _fleet_figures(count: int) -> dict:
    models = chain_fleet(count)
    defs = automated_fleet(models)
    with dg.instance_for_test() as instance:
        for model in models:
            names = ModelNames(model.name)
            _record(instance, names.champion_model, {"champion_version": "1"})
            recorded = {f"upstream_{u}_version": "1" for u in model.upstream}
            _record(instance, names.training_data, recorded)
        cursor, wall, cpu = None, [], []
        for tick in range(TICKS + 1):
            result, seconds, cpu_s = _tick(defs, instance, cursor, tick)
            cursor = result.cursor
            wall.append(seconds)
            cpu.append(cpu_s)
        # What one automation sensor evaluates: one downstream model's group.
        group, group_cursor, group_wall, group_cpu = (
            dg.AssetSelection.groups("model_2"),
            None,
            [],
            [],
        )
        for tick in range(TICKS + 1):
            result, seconds, cpu_s = _tick(defs, instance, group_cursor, tick, group)
            group_cursor = result.cursor
            group_wall.append(seconds)
            group_cpu.append(cpu_s)
        # What the daemon does per interval: every model group's sensor once (second pass).
        groups = [dg.AssetSelection.groups(model.name) for model in models]
        cursors, every_group = [None] * count, []
        for tick in range(2):
            every_group = [_tick(defs, instance, cursors[i], tick, g) for i, g in enumerate(groups)]
            cursors = [result.cursor for result, _, _ in every_group]
        for model in models:
            if model.upstream:
                upstream = ModelNames(model.upstream[0]).champion_model
                _record(instance, upstream, {"champion_version": "2"})
        result, promoted, promoted_cpu = _tick(defs, instance, cursor, TICKS + 1)
    return {
        "assets": count * 5,
        "fleet_tick_median_s": _median(wall[1:]),
        "fleet_tick_median_cpu_s": _median(cpu[1:]),
        "fleet_first_tick_s": round(wall[0], 3),
        "fleet_first_tick_cpu_s": round(cpu[0], 3),
        "fleet_tick_with_promotions_s": round(promoted, 3),
        "fleet_tick_with_promotions_cpu_s": round(promoted_cpu, 3),
        "assets_requested_on_promotion": result.total_requested,
        "group_tick_median_s": _median(group_wall[1:]),
        "group_tick_median_cpu_s": _median(group_cpu[1:]),
        "every_group_sensor_once_s": round(sum(s for _, s, _ in every_group), 3),
        "every_group_sensor_once_cpu_s": round(sum(c for _, _, c in every_group), 3),
    }


def evaluation_figures() -> dict:
    """Per fleet size: the median wall and CPU seconds of one automation tick over every model's
    conditions (`fleet_tick`), over TICKS quiet ticks after the first; the first tick; the tick
    that sees one upstream promotion per chain; one model group's tick (`group_tick`: what one
    `<model>_automation_sensor` evaluates, the latency a deployment sees); and every group's
    sensor evaluated once, one after another (the daemon's work per 30 s interval)."""
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    figures = {f"{count}_models": _fleet_figures(count) for count in (3, 10, 50)}
    figures["load_average_at_start"] = load_at_start
    figures["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    figures["target"] = (
        "< 2 s wall for one tick at 50 models, measured on fleet_tick (every model's "
        "conditions in one evaluation: the bound if one sensor targeted the whole fleet); "
        "a deployment runs one sensor per model group, so each sensor tick costs group_tick"
    )
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
