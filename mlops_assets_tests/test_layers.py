"""The layout holds: one-way layers, few top-level modules, a layout page that matches the tree."""

import subprocess
import sys
from pathlib import Path

import mlops_assets

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(mlops_assets.__file__).parent


def test_imports_follow_the_layers_in_pyproject():
    result = subprocess.run(
        [Path(sys.executable).parent / "lint-imports", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout


def test_at_most_five_top_level_modules():
    modules = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 5, f"{len(modules)} top-level modules: {modules}"


def test_layout_page_names_every_folder_and_module():
    layout = (ROOT / "docs" / "layout.md").read_text()
    folders = sorted(
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    )
    for folder in folders:
        assert f"{folder}/" in layout, f"docs/layout.md does not show {folder}/"
        for module in (PACKAGE / folder).rglob("*.py"):
            if module.name not in ("__init__.py", "__main__.py"):
                shown = module.relative_to(PACKAGE)
                assert module.stem in layout, f"docs/layout.md does not show {shown}"
    for module in PACKAGE.glob("*.py"):
        if module.name != "__init__.py":
            assert module.name in layout


def test_tests_mirror_the_package_folders():
    tests = Path(__file__).resolve().parent
    for folder in PACKAGE.iterdir():
        if folder.is_dir() and (folder / "__init__.py").exists() and folder.name != "resources":
            assert (tests / folder.name).is_dir(), f"no mlops_assets_tests/{folder.name}/"
