"""Where things are in the Dagster UI and how a person gets there: names in one place, so a
renamed asset, group or code location changes one line."""

import re
import time

from playwright.sync_api import Locator, Page, expect

from mlops_assets.contracts.fleet import load_fleet

# `workspace.yaml` loads the definitions module; its name is the code location's.
LOCATION = "mlops_assets.definitions"
# One asset group per model of the shipped fleet.
GROUPS = tuple(load_fleet().names)


def global_lineage(page: Page, url: str) -> None:
    page.goto(f"{url}/asset-groups")


def group_lineage(page: Page, url: str, group: str) -> None:
    page.goto(f"{url}/locations/{LOCATION}/asset-groups/{group}/lineage")


def asset_page(page: Page, url: str, key: str, view: str | None = None) -> None:
    page.goto(f"{url}/assets/{key}" + (f"?view={view}" if view else ""))


def tab(page: Page, name: str) -> None:
    """A tab of an asset or job page (Overview, Partitions, Events, Checks, Launchpad, …)."""
    page.get_by_role("tab", name=name, exact=True).click()


def _exactly(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def link(page: Page, text: str) -> Locator:
    """A link by its visible text (an icon's label is part of a link's accessible name)."""
    return page.get_by_role("link").filter(has_text=_exactly(text))


def button(scope: Page | Locator, text: str) -> Locator:
    """A button by its visible text (an icon's label is part of its accessible name)."""
    return scope.get_by_role("button").filter(has_text=_exactly(text)).last


def named(page: Page, name: str) -> Locator:
    """A list entry by its full name: long names show truncated in the middle, with the full
    name as their title."""
    return page.get_by_title(name, exact=True).filter(visible=True).first


def open_job_launchpad(page: Page) -> Locator:
    """On an asset job's page: the launchpad dialog, from the Materialize button's menu."""
    page.locator("button", has=page.locator('[aria-label="arrow_drop_down"]')).last.click()
    page.get_by_role("menuitem", name=re.compile("Open launchpad")).click()
    return page.get_by_role("dialog").filter(has_text="Launchpad")


def choose_launchpad_partition(dialog: Locator, partition: str) -> None:
    field = dialog.get_by_placeholder("Partition")
    field.fill(partition)
    field.press("Enter")


def nav(page: Page, name: str) -> None:
    """A link of the left navigation (Overview, Runs, Catalog, Jobs, Automation, Lineage)."""
    link(page, name).first.click()


def lineage_edges(page: Page) -> Locator:
    """The arrows between asset nodes in a lineage graph."""
    return page.locator("svg path[marker-end]")


def metadata_row(page: Page, key: str) -> Locator:
    """A row of an asset's or a check's metadata table, by its key."""
    return page.locator("tr", has=page.get_by_text(key, exact=True)).first


def launch_dialog_for_partition(page: Page, partition: str) -> None:
    """In the "Materialize all" dialog: every partition shown, one typed, its run launched."""
    dialog = page.get_by_role("dialog")
    show_all = dialog.get_by_text("Show all partitions")
    selection = dialog.get_by_placeholder(re.compile(r"^ex: "))
    # The dialog first shows the recent partitions only, with a link to show them all.
    expect(show_all.or_(selection).first).to_be_visible()
    if show_all.is_visible():
        show_all.click()
    selection.fill(partition)
    selection.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Launch 1 run").click()


def replace_launchpad_config(page: Page, launchpad: Locator, yaml: str) -> None:
    """Types `yaml` (one line, flow style) over the launchpad's config editor."""
    launchpad.locator(".CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(yaml)


def automation_row(page: Page, name: str) -> Locator:
    """A sensor's or schedule's row on the Automation page."""
    return page.locator("[data-index]", has=page.get_by_text(name, exact=True)).first


def wait_for_new_run(before: set[str], run_ids, timeout_s: float = 120) -> str:
    """The id of the one run that appeared since `before` (the UI launched it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = run_ids() - before
        if new:
            [run_id] = new
            return run_id
        time.sleep(1)
    raise TimeoutError(f"no new run within {timeout_s:.0f} s")
