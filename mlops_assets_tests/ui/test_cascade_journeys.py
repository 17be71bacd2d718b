"""The cascade as a person sees it in the Dagster UI: the edges between model groups (a
downstream model's `training_data` reading the upstream champions), the automation sensors
running without a toggle, the retrain schedules gone, and the automation condition a
downstream asset carries.

Same fixtures as test_journeys.py (a real `dagster dev` whose daemon evaluates the automation
sensors); each journey leaves a screenshot in its test's temporary folder.
"""

import re
import time

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorStatus
from playwright.sync_api import expect

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.definitions import build_definitions
from mlops_assets.graph.model_names import ModelNames
from mlops_assets_tests.ui import pages

pytestmark = pytest.mark.ui

FLEET = load_fleet()
# The shipped fleet's downstream model and the models it reads features from.
[DOWNSTREAM] = [m for m in FLEET.models if m.upstream]
UPSTREAM = tuple(DOWNSTREAM.upstream)
RISK = ModelNames(DOWNSTREAM.name)


@pytest.fixture(scope="module")
def definitions(dagster_ui):
    return build_definitions(dagster_ui.settings)


def group_pairs(definitions: dg.Definitions) -> set[tuple[str, str]]:
    """(upstream group, downstream group) for every dependency that crosses groups: the arrows
    the global lineage draws between its collapsed groups."""
    graph = definitions.resolve_asset_graph()
    return {
        (graph.get(parent).group_name, graph.get(key).group_name)
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
        if graph.get(parent).group_name != graph.get(key).group_name
    }


def asset_link(page, key: dg.AssetKey):
    """A link to an asset as an asset page's lineage lists it: `task_photos / champion_model`."""
    href = f'a[href="/assets/{key.to_user_string()}"]'
    return page.locator(href).filter(has_text=" / ".join(key.path)).first


def wait_for_evaluation(dagster_ui, key: dg.AssetKey, timeout_s: float = 300) -> None:
    """Until the daemon has evaluated `key`'s automation condition once (the sensors tick
    every 30 s once `dagster dev` has loaded the code location)."""
    deadline = time.monotonic() + timeout_s
    with dagster_ui.instance() as instance:
        while not instance.schedule_storage.get_auto_materialize_asset_evaluations(key, limit=1):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key.to_user_string()} not evaluated in {timeout_s:.0f} s")
            time.sleep(2)


def test_global_lineage_draws_an_edge_from_each_upstream_group(
    page, dagster_ui, definitions, journey
):
    assert group_pairs(definitions) == {(u, DOWNSTREAM.name) for u in UPSTREAM}
    pages.global_lineage(page, dagster_ui.url)
    for group in pages.GROUPS:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    expect(pages.lineage_edges(page)).to_have_count(len(group_pairs(definitions)))


def test_downstream_training_data_lists_the_upstream_champions(page, dagster_ui, journey):
    # The downstream group's lineage draws each upstream champion as a link node.
    pages.group_lineage(page, dagster_ui.url, DOWNSTREAM.name)
    expect(page.get_by_title("champion_model", exact=True)).to_have_count(len(UPSTREAM))
    # The asset page names them in full, each a link to the upstream model's asset.
    pages.asset_page(page, dagster_ui.url, RISK.training_data.to_user_string())
    for upstream in UPSTREAM:
        champion = ModelNames(upstream).champion_model
        expect(asset_link(page, champion)).to_be_visible()
    # Following one lands on the upstream model's champion, which lists the downstream asset.
    champion = ModelNames(UPSTREAM[0]).champion_model
    asset_link(page, champion).click()
    page.wait_for_url(re.compile(rf"/assets/{champion.to_user_string()}$"))
    expect(asset_link(page, RISK.training_data)).to_be_visible()


def test_automation_sensors_run_without_a_toggle_and_no_retrain_schedule_is_left(
    page, dagster_ui, definitions, journey
):
    monitors = sorted(s.name for s in definitions.schedules)
    assert monitors == sorted(
        ModelNames(m.name).monitor_schedule for m in FLEET.models if not m.upstream
    )
    pages.global_lineage(page, dagster_ui.url)
    pages.nav(page, "Automation")
    for model in FLEET.models:
        row = pages.automation_row(page, ModelNames(model.name).automation_sensor)
        expect(row).to_contain_text("Automation condition sensor")
        expect(row.locator("input[type=checkbox]").last).to_be_checked()
    for name in monitors:
        row = pages.automation_row(page, name)
        expect(row).to_contain_text("Scheduled")
        expect(row.locator("input[type=checkbox]").last).to_be_checked()
    expect(page.get_by_text(re.compile(r"retrain_schedule"))).to_have_count(0)
    # Nobody switched them on: the daemon runs them as declared in code (a toggle would have
    # stored RUNNING).
    wait_for_evaluation(dagster_ui, RISK.training_data)
    with dagster_ui.instance() as instance:
        states = {
            state.name: state.status
            for state in instance.all_instigator_state()
            if state.name.endswith("_automation_sensor")
        }
    assert states == {
        ModelNames(m.name).automation_sensor: InstigatorStatus.DECLARED_IN_CODE
        for m in FLEET.models
    }


def test_downstream_training_data_shows_its_automation_condition(page, dagster_ui, journey):
    wait_for_evaluation(dagster_ui, RISK.training_data)
    pages.asset_page(page, dagster_ui.url, RISK.training_data.to_user_string())
    expect(page.get_by_text(f"retrain {DOWNSTREAM.name}", exact=True)).to_be_visible()
    expect(pages.named(page, RISK.automation_sensor)).to_be_visible()
    # The sensor has evaluated the condition (running by default): its newest evaluation
    # shows the condition's parts, the cadence and the upstream champion among them.
    pages.tab(page, "Automation")
    evaluations = page.get_by_role("row").filter(has_text=re.compile("requested", re.I))
    evaluations.first.get_by_title(re.compile(r"\d:\d\d:\d\d")).click()
    dialog = page.get_by_role("dialog")
    timezone = dagster_ui.settings.schedule_timezone
    for label in (
        f"retrain {DOWNSTREAM.name}",
        f"on_cron({DOWNSTREAM.cadence}, {timezone})",
        "upstream_champion_moved",
        "upstream_champions_serve",
        "any_deps_busy",
        "any_deps_check_failed",
    ):
        expect(dialog.get_by_text(label, exact=True).first).to_be_visible()
