"""A real Dagster UI for the browser tests: `dagster dev` on a test instance holding a short
replay, and Chromium (Debian's `chromium`) driven by Playwright.

The session fixture replays two months into a fresh instance and registry (two promotions, so
a rollback has somewhere to go), evaluates the champion with `champion_monitor`, leaves one
more month of data undecided for the UI to materialize, then starts `dagster dev` on a free
port of 127.0.0.1 against that instance.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
from mirakuru import HTTPExecutor

from mlops_assets.backends import factory
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.definitions import build_definitions
from mlops_assets.demo import replay
from mlops_assets.demo.commands import monitor_champion
from mlops_assets.demo.source import Scenario, month_tasks
from mlops_assets.settings import Settings
from mlops_assets.tools import processes
from mlops_assets_tests.support.photo_graph import PHOTO, node
from mlops_assets_tests.support.services import service_missing

ROOT = Path(__file__).resolve().parents[2]
# Months 3 and 4 decided (trained on the months before each), month 5 left for the UI.
SCENARIO = Scenario(months=5, per_month=400, drift=False)
DECIDED = dataclasses.replace(SCENARIO, months=4)
UNDECIDED_MONTH = SCENARIO.month_key(5)
# Every replayed month promotes, so @champion has a predecessor to roll back to.
# The previous rule with a margin below any difference: every month that passes the value gates
# promotes (the paired rule would defend most of them).
ALWAYS_PROMOTE = {
    "ops": {
        node("verification_report"): {
            "config": {"min_improvement": -1.0, "change_rule": "min_improvement"}
        }
    }
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A loaded two-core CI machine: page loads and runs take their time.
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_S = 600
# Tags Dagster puts on the runs a schedule or a sensor launched.
AUTOMATION_TAGS = {"dagster/schedule_name", "dagster/sensor_name"}


@dataclass
class DagsterUI:
    """`dagster dev` on a test instance, and the stores behind it."""

    url: str
    home: Path
    settings: Settings

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home / "dagster"))

    def registry(self) -> RegistryClient:
        return factory.registry(self.settings)

    def champion(self) -> str | None:
        champion = self.registry().champion()
        return champion.version if champion else None

    def run_ids(self) -> set[str]:
        """The runs a person launched: schedules tick on their own (the monitor schedules at
        every full hour), so a journey that counts runs leaves theirs out."""
        with self.instance() as instance:
            return {
                run.run_id for run in instance.get_runs() if not AUTOMATION_TAGS & run.tags.keys()
            }

    def wait_for_run(self, run_id: str, timeout_s: float = RUN_TIMEOUT_S) -> dg.DagsterRunStatus:
        """The status a run ends with (polled from the instance)."""
        deadline = time.monotonic() + timeout_s
        with self.instance() as instance:
            while time.monotonic() < deadline:
                run = instance.get_run_by_id(run_id)
                if run is not None and run.is_finished:
                    return run.status
                time.sleep(2)
        raise TimeoutError(f"run {run_id} not finished after {timeout_s:.0f} s")


def _replay_into(home: Path) -> Settings:
    """Two decided months, the champion evaluated, one more month of data waiting."""
    settings = Settings(home=home, retry_delay_s=0)
    store, registry = factory.data_store(settings), factory.registry(settings)
    definitions = build_definitions(settings)
    (home / "dagster").mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "dagster-local.yaml", home / "dagster" / "dagster.yaml")
    try:
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            results = replay.run_replay(
                definitions.resolve_job_def(PHOTO.retrain_job),
                instance,
                DECIDED,
                deliver=store.insert,
                champion_version=lambda: c.version if (c := registry.champion()) else None,
                first_month=3,
                run_config={**ALWAYS_PROMOTE, **replay.QUIET},
                monitor=lambda: monitor_champion(definitions, instance, settings),
            )
        store.insert(month_tasks(SCENARIO, 5))
    finally:
        store.close()
    assert [r.decision for r in results] == ["promoted", "promoted"], results
    return settings


@pytest.fixture(scope="session")
def dagster_ui(tmp_path_factory) -> Iterator[DagsterUI]:
    home = tmp_path_factory.mktemp("ui") / "var"
    saved = {k: v for k, v in os.environ.items() if k.startswith(processes.CONFIGURATION_PREFIXES)}
    for name in saved:
        del os.environ[name]
    os.environ["MLOPS_HOME"] = str(home)
    try:
        settings = _replay_into(home)
    finally:
        os.environ.pop("MLOPS_HOME", None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.update(saved)
    env = processes.embedded_environment(
        home,
        # Sensors run as in production but have nothing to act on: no spurious runs.
        MLOPS_MIN_NEW_LABELS="1000000",
        MLOPS_MONITOR_MIN_SAMPLES="1000000",
        MLOPS_RETRY_DELAY_S="0",
    )
    subprocess.run(processes.registry_pool_command(), env=env, check=True, capture_output=True)
    port = processes.free_port()
    url = f"http://{processes.HOST}:{port}"
    log = open(home / "dagster-dev.log", "ab")  # noqa: SIM115 (closed after the executor)
    executor = HTTPExecutor(
        [
            str(processes.venv_binary("dagster")),
            "dev",
            "-h",
            processes.HOST,
            "-p",
            str(port),
            "-w",
            str(ROOT / "workspace.yaml"),
        ],
        url=f"{url}/server_info",
        method="GET",
        timeout=300,
        envvars=env,
        cwd=str(ROOT),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # mirakuru starts the command with this process's environment updated by `envvars`, which
    # would bring back what `embedded_environment` left out (a tracking URI an earlier test's
    # in-process run exported: the UI's runs then wrote to that test's registry).
    with mock.patch.dict(os.environ, env, clear=True):
        executor.start()
    try:
        yield DagsterUI(url, home, settings)
    finally:
        executor.stop()
        log.close()


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        service_missing("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions do (Playwright's default for `expect` is 5 s).
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, dagster_ui, tmp_path):
    """A fresh browser profile on the UI, past Dagster's first-visit modal (`communityNux`)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.add_init_script("window.localStorage.setItem('communityNux', '1')")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def journey_times(tmp_path_factory) -> Iterator[dict[str, float]]:
    """Each journey's wall time; written to ui-journeys.json in the session's temporary root."""
    times: dict[str, float] = {}
    yield times
    path = tmp_path_factory.getbasetemp() / "ui-journeys.json"
    path.write_text(json.dumps(times, indent=2) + "\n")


@pytest.fixture
def journey(page, request, tmp_path, journey_times):
    """Times the journey and leaves its screenshot (`journey.png`) in the test's tmp folder."""
    started = time.perf_counter()
    yield
    journey_times[request.node.name] = round(time.perf_counter() - started, 1)
    page.screenshot(path=str(tmp_path / "journey.png"), full_page=True)
