"""A person's journeys through the Dagster UI, in Chromium against `dagster dev`: lineage,
materializing a month, reading gates, checks and plots, launching jobs, refused bad input.

They assert what a person sees (text, roles, the registry afterwards), never pixels; each
journey leaves a screenshot in its test's temporary folder.
"""

import re

import dagster as dg
import pytest
from playwright.sync_api import expect

from mlops_assets.backends.champion_moves import PREVIOUS_CHAMPION_TAG
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.definitions import build_definitions
from mlops_assets_tests.support.photo_graph import PHOTO, key, node
from mlops_assets_tests.ui import pages
from mlops_assets_tests.ui.conftest import UNDECIDED_MONTH

pytestmark = pytest.mark.ui

# What a failed gate means, as each gate check's `on_failure` row says, and a piece of the
# reason only that gate gives.
GATE_SEVERITIES = {
    "accuracy_above_minimum": ("ERROR: rejected", "the threshold 0.9"),
    "p95_latency_below_maximum": ("ERROR: rejected", "latency_p95_s"),
    "not_worse_than_champion": ("WARN: defended", "champion"),
}


@pytest.fixture(scope="module")
def definitions(dagster_ui):
    return build_definitions(dagster_ui.settings)


def group_edges(definitions: dg.Definitions, group: str) -> int:
    """Arrows a group's lineage draws: one per dependency of one of its assets, those from or
    to another group's asset included (drawn as a link node: a downstream model reads the
    upstream champions, an upstream group shows the training_data that reads its champion)."""
    graph = definitions.resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}
    parents = sum(1 for key in keys for parent in graph.get(key).parent_keys if parent != key)
    children = sum(1 for key in keys for child in graph.get(key).child_keys if child not in keys)
    return parents + children


def group_asset_labels(definitions: dg.Definitions, group: str) -> list[str]:
    """What a group's lineage labels its assets with: the last part of each key (the group
    already names the model)."""
    graph = definitions.resolve_asset_graph()
    return sorted(
        k.path[-1] for k in graph.get_all_asset_keys() if graph.get(k).group_name == group
    )


def group_partitioned_keys(definitions: dg.Definitions, group: str) -> list[str]:
    graph = definitions.resolve_asset_graph()
    return sorted(
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name == group and graph.get(k).partitions_def is not None
    )


def test_lineage_shows_one_group_per_model_and_its_edges(page, dagster_ui, definitions, journey):
    pages.global_lineage(page, dagster_ui.url)
    for group in pages.GROUPS:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    for group in pages.GROUPS:
        pages.group_lineage(page, dagster_ui.url, group)
        for name in group_asset_labels(definitions, group):
            expect(page.get_by_text(name, exact=True).first).to_be_visible()
        expect(pages.lineage_edges(page)).to_have_count(group_edges(definitions, group))
        # The labels are the same in every group; the nodes' partition links name the model's
        # own keys (`/assets/task_photos/training_data?view=partitions`).
        for name in group_partitioned_keys(definitions, group):
            expect(page.locator(f'a[href="/assets/{name}?view=partitions"]').first).to_be_visible()
    assert group_edges(definitions, PHOTO.model) >= 5
    assert key("training_data") in group_partitioned_keys(definitions, PHOTO.model)


def test_materialize_one_month_from_the_ui_and_read_its_decision(page, dagster_ui, journey):
    before = dagster_ui.run_ids()
    pages.group_lineage(page, dagster_ui.url, PHOTO.model)
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()
    pages.launch_dialog_for_partition(page, UNDECIDED_MONTH)

    run_id = pages.wait_for_new_run(before, dagster_ui.run_ids)
    assert dagster_ui.wait_for_run(run_id) == dg.DagsterRunStatus.SUCCESS
    with dagster_ui.instance() as instance:
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=PHOTO.champion_model, asset_partitions=[UNDECIDED_MONTH]
            ),
            limit=1,
        ).records
    metadata = record.asset_materialization.metadata
    decision, serving = metadata["decision"].value, metadata["champion_version"].value
    assert record.run_id == run_id and decision in {"promoted", "defended", "rejected"}
    assert dagster_ui.champion() == serving

    pages.asset_page(page, dagster_ui.url, key("champion_model"))
    expect(pages.metadata_row(page, "decision")).to_contain_text(decision)
    expect(pages.metadata_row(page, "champion_version")).to_contain_text(serving)


def test_verification_report_shows_the_gates_with_severities_and_the_confusion_matrix(
    page, dagster_ui, journey
):
    pages.asset_page(page, dagster_ui.url, key("verification_report"))
    expect(pages.metadata_row(page, "confusion_matrix")).to_contain_text("true \\ pred")
    pages.tab(page, "Checks")
    gates = load_fleet().model(PHOTO.model).gates
    assert sorted(GATE_SEVERITIES) == sorted(g.name for g in gates)
    for check, (severity, reason) in GATE_SEVERITIES.items():
        pages.named(page, check).click()
        expect(pages.metadata_row(page, "reason")).to_contain_text(reason)
        expect(pages.metadata_row(page, "on_failure")).to_contain_text(severity)


def test_champion_monitor_shows_its_checks_and_history_plot(page, dagster_ui, journey):
    pages.asset_page(page, dagster_ui.url, key("champion_monitor"))
    plot = pages.metadata_row(page, "history_plot")
    plot.get_by_text("[Show Markdown]").click()
    expect(page.get_by_role("img", name="champion monitor")).to_be_visible()
    page.keyboard.press("Escape")
    pages.tab(page, "Checks")
    for check in ("champion_accuracy_at_target", "champion_drift_within_threshold"):
        expect(pages.named(page, check)).to_be_visible()
    expect(page.get_by_text("Succeeded").or_(page.get_by_text("Warning")).first).to_be_visible()


def test_rollback_champion_job_from_the_launchpad_moves_champion_back(page, dagster_ui, journey):
    registry = dagster_ui.registry()
    current = registry.champion().version
    previous = _previous(registry, current)
    pages.global_lineage(page, dagster_ui.url)
    pages.nav(page, "Jobs")
    pages.link(page, PHOTO.rollback_job).first.click()
    pages.tab(page, "Launchpad")
    pages.button(page, "Launch Run").click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    assert dagster_ui.wait_for_run(run_id) == dg.DagsterRunStatus.SUCCESS
    expect(page.get_by_text("Success").first).to_be_visible()
    assert dagster_ui.champion() == previous != current


def _previous(registry, version: str) -> str:
    return (
        registry.client()
        .get_model_version(registry.model_name, version)
        .tags[PREVIOUS_CHAMPION_TAG]
    )


def test_sensors_and_schedules_are_listed_and_running_as_defined(
    page, dagster_ui, definitions, journey
):
    pages.global_lineage(page, dagster_ui.url)
    pages.nav(page, "Automation")
    expected = {s.name: s.default_status.value == "RUNNING" for s in definitions.sensors}
    expected |= {s.name: s.default_status.value == "RUNNING" for s in definitions.schedules}
    assert {"task_confirmed_events_sensor", PHOTO.automation_sensor} <= set(expected)
    for name, running in expected.items():
        row = pages.automation_row(page, name)
        expect(row).to_be_visible()
        toggle = row.locator("input[type=checkbox]").last
        (expect(toggle).to_be_checked if running else expect(toggle).not_to_be_checked)()


def test_an_invalid_hyperparameter_gets_a_config_error_and_starts_nothing(
    page, dagster_ui, journey
):
    before, champion = dagster_ui.run_ids(), dagster_ui.champion()
    pages.global_lineage(page, dagster_ui.url)
    pages.nav(page, "Jobs")
    pages.link(page, PHOTO.retrain_job).first.click()
    launchpad = pages.open_job_launchpad(page)
    pages.choose_launchpad_partition(launchpad, UNDECIDED_MONTH)
    materialize = pages.button(launchpad, "Materialize")
    expect(materialize).to_be_enabled()  # the defaults are valid
    # The launchpad addresses the training stage by its op name, `task_photos__trained_model`.
    trainer = node("trained_model")
    pages.replace_launchpad_config(
        page, launchpad, f"ops: {{{trainer}: {{config: {{epochs: many}}}}}}"
    )
    path = re.escape(f"root:ops:{trainer}:config:epochs")
    expect(launchpad.get_by_text(re.compile(rf"Invalid scalar at path {path}"))).to_be_visible()
    expect(materialize).to_be_disabled()
    assert dagster_ui.run_ids() == before
    assert dagster_ui.champion() == champion
