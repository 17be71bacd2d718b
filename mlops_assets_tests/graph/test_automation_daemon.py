"""End to end with the real `dagster-daemon`: an upstream promotion makes the downstream
model's automation sensor launch its retraining chain, which succeeds and records the new
upstream champion. On the hand-built fleet (support/automation_workspace.py): no training."""

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.tools import processes
from mlops_assets_tests.support.automation_fleet import champion_run_config
from mlops_assets_tests.support.automation_workspace import defs

UP, DOWN = ModelNames("up"), ModelNames("down")
ROOT = Path(__file__).resolve().parents[2]
MODULE = "mlops_assets_tests.support.automation_workspace"
# Bounds, not timings: daemon start, a few 30 s sensor ticks, one short run.
WAIT_S = 420


def run_chain(instance, model: str, month: str, **champion) -> None:
    keys = set(ModelNames(model).retraining_keys)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=keys)
    config = champion_run_config(model, **champion) if champion else None
    assert job.execute_in_process(instance=instance, partition_key=month, run_config=config).success


def downstream_runs(instance) -> list[dg.DagsterRun]:
    return [
        run for run in instance.get_runs() if DOWN.training_data in (run.asset_selection or set())
    ]


@pytest.mark.integration
def test_an_upstream_promotion_starts_the_downstream_run_through_the_daemon(tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    month = monthly_partitions.get_last_partition_key()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_chain(instance, "up", month, version="1", previous="none")
        run_chain(instance, "down", month)
        before = {r.run_id for r in downstream_runs(instance)}
        with open(tmp_path / "daemon.log", "ab") as log:
            daemon = subprocess.Popen(
                [str(processes.venv_binary("dagster-daemon")), "run", "-m", MODULE],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            # Let the sensor's first tick see the downstream up to date, then promote.
            wait_for(lambda: sensor_ticks(instance), "the automation sensor's first tick", tmp_path)
            run_chain(instance, "up", month, version="2", previous="1")
            run = wait_for(
                lambda: next(
                    (
                        r
                        for r in downstream_runs(instance)
                        if r.run_id not in before and instance.get_run_by_id(r.run_id).is_finished
                    ),
                    None,
                ),
                "the downstream run",
                tmp_path,
            )
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
        run = instance.get_run_by_id(run.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert set(run.asset_selection) == set(DOWN.retraining_keys)
        assert run.tags["dagster/partition"] == month
        event = instance.get_latest_materialization_event(DOWN.training_data)
        assert event.run_id == run.run_id
        assert event.asset_materialization.metadata["upstream_up_version"].value == "2"


def sensor_ticks(instance) -> list:
    states = [s for s in instance.all_instigator_state() if s.name == DOWN.automation_sensor]
    if not states:
        return []
    return instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id)


def wait_for(probe, what: str, folder: Path):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(2)
    pytest.fail(
        f"no {what} in {WAIT_S} s; daemon log:\n{(folder / 'daemon.log').read_text()[-4000:]}"
    )
