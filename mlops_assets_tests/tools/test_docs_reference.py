"""The docs site builds strictly, and its generated reference covers what the code declares."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_assets.contracts.fleet import FleetSpec
from mlops_assets.serving.config import ServingSettings
from mlops_assets.settings import Settings
from mlops_assets.tools import docs_reference
from mlops_assets.tools.docs_reference import (
    configuration_markdown,
    fleet_markdown,
    http_api_markdown,
    setting_rows,
    undescribed_fields,
    undescribed_settings,
)

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / "mkdocs"
README = ROOT / "README.md"
# A Markdown link or image, `[text](target)` / `![alt](target)`; the target up to a space or `)`.
LINK = re.compile(r"\]\(([^)\s]+)")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [MKDOCS, "build", "--strict", "-f", config, "-d", site],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_every_setting_has_a_description():
    assert undescribed_settings() == []


def test_a_setting_without_a_description_is_reported(monkeypatch):
    class Bare(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="MLOPS_BARE_")
        described: int = Field(default=1, description="Has one.")
        silent: int = 2

    monkeypatch.setattr(docs_reference, "SETTINGS_TABLES", (("bare", Bare, True),))
    assert undescribed_settings() == ["MLOPS_BARE_SILENT"]


def test_every_fleet_field_has_a_description():
    assert undescribed_fields() == []

    class Loose(BaseModel):
        name: str

    assert undescribed_fields(Loose) == ["Loose.name"]


def test_configuration_lists_every_variable_with_default_and_secrecy():
    page = configuration_markdown()
    for model in (Settings, ServingSettings):
        for row in setting_rows(model, inherited=True):
            assert f"`{row.variables[0]}`" in page
    lines = {line.split(" | ")[0].strip("| `"): line for line in page.splitlines()}
    assert "| `20000` |" in lines["MLOPS_EVENTS_MAX_BATCH"]
    assert "| yes |" in lines["RABBITMQ_URL"]
    assert "| yes |" not in lines["MLOPS_EVENT_QUEUE_PREFIX"]
    assert "MLOPS_SERVING_TASK_IDS_TOKEN" in lines


def test_secrecy_follows_the_annotation():
    class Keys(BaseSettings):
        token: SecretStr | None = Field(default=None, description="A token.")
        name: str = Field(default="x", description="A name.")

    rows = {row.variables[0]: row.secret for row in setting_rows(Keys)}
    assert rows == {"TOKEN": True, "NAME": False}


def test_fleet_reference_shows_every_spec_and_its_fields():
    page = fleet_markdown()
    for name in ("FleetSpec", "ModelSpec", "SourceSpec", "TrainerSpec", "GateSpec", "MonitorSpec"):
        assert f"### `{name}`" in page
    for field in FleetSpec.model_fields["models"].annotation.__args__[0].model_fields:
        assert f"| `{field}` |" in page


def test_http_api_reference_shows_every_route_and_status():
    openapi = docs_reference.server_openapi()
    page = http_api_markdown(openapi)
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert f"### `{method.upper()} {path}`" in page
            for status in operation["responses"]:
                assert f"| {status} |" in page
    assert "### `PredictRequest`" in page


def test_docs_site_builds_strictly_with_the_generated_reference(tmp_path):
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    home = (tmp_path / "site" / "index.html").read_text()
    assert "Where to go next" in home and 'href="docs/' not in home
    config = (tmp_path / "site" / "configuration" / "index.html").read_text()
    assert "MLOPS_SERVING_TASK_IDS_TOKEN" in config
    assert "reference:" not in config
    assert not (tmp_path / "site" / "hooks").exists(), "the hook's code is published"


def test_a_broken_link_fails_the_build(tmp_path):
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "docs").mkdir()
    shutil.copytree(ROOT / "docs" / "hooks", tmp_path / "docs" / "hooks")
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [the missing page](missing.md).\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(config.read_text().split("\nnav:")[0] + "\n")
    result = build(config, tmp_path / "site")
    assert result.returncode != 0
    assert "missing.md" in result.stderr


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_every_docs_page_is_in_the_navigation(page):
    assert f": {page}" in (ROOT / "mkdocs.yml").read_text()


def relative_links(markdown: str) -> list[str]:
    """The link targets of a Markdown text that point into the repository (no scheme, no anchor)."""
    targets = (target.split("#")[0] for target in LINK.findall(markdown))
    return [link for link in targets if link and not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def test_the_readme_is_a_front_page_of_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


def test_every_relative_link_of_the_readme_points_at_a_file():
    links = relative_links(README.read_text())
    assert "docs/automation.md" in links and "docs/img/accuracy.png" in links
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_a_link_to_a_missing_file_is_found():
    text = "[a](docs/fleet.md) ![b](docs/img/missing.png) [c](https://x.org/y) [d](#top)"
    links = relative_links(text)
    assert links == ["docs/fleet.md", "docs/img/missing.png"]
    assert [link for link in links if not (ROOT / link).is_file()] == ["docs/img/missing.png"]
