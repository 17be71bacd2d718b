"""The locked install: every dependency pinned, the venv installed from the pins, and a clear
refusal of an unsupported Python."""

import importlib.metadata
import re
import subprocess
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
INSTALLER_TOOLS = {"pip", "setuptools", "wheel"}


def pins() -> dict[str, tuple[str, str | None]]:
    """name -> (version, marker) of each line of requirements.lock."""
    found = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        # `name==version [; marker] \` (a hashed lock continues each pin with its hashes).
        pin = line.strip().removesuffix("\\").strip()
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)(?:\s*;\s*(.+))?$", pin)
        if match:
            found[canonicalize_name(match[1])] = (match[2], match[3])
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]


def test_every_declared_dependency_is_pinned_run_make_lock_if_not():
    missing = [r.name for r in declared() if canonicalize_name(r.name) not in pins()]
    assert missing == [], f"not in requirements.lock: {missing}; run `make lock`"


def test_pins_satisfy_the_declared_ranges():
    locked = pins()
    for requirement in declared():
        version, _ = locked[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_this_environment_was_installed_from_the_lock():
    wrong = {}
    for name, (version, marker) in pins().items():
        # The installer's own tools come with the venv, at the venv's version.
        if name in INSTALLER_TOOLS or (marker and not Marker(marker).evaluate()):
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if installed != version:
            wrong[name] = (installed, version)
    assert wrong == {}, f"installed vs locked: {wrong}; run `make install` (or `make lock`)"


def test_an_unsupported_python_gets_one_line_naming_the_fix(tmp_path):
    python = tmp_path / "python3.13"
    python.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.13.1"; exit 0; fi\nexit 1\n'
    )
    python.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "-B", f"PYTHON={python}", "install"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert "needs Python 3.11 or 3.12" in line and "Python 3.13.1" in line
    assert "make PYTHON=python3.11" in line
