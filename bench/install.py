"""Benchmark: a fresh install of the locked environment with pip and with uv, in one run.

Each installs what `make install` installs (requirements.lock as constraints, the project
editable with its dev extra) into a new virtual environment with an empty cache: pip with
`--no-cache-dir` (after `pip install --upgrade pip`, as the Makefile does), uv with a new
`UV_CACHE_DIR`. Both download from PyPI; pip's configuration files are ignored
(`PIP_CONFIG_FILE=/dev/null`) so neither reads a local mirror. uv comes from PATH, else it is
installed into a scratch environment first (not timed).

Writes bench/results/install.json. Run with `python bench/install.py` (network, ~2 x 2.6 GB).
"""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "install.json"
LOCK = ROOT / "requirements.lock"


def run(command: list[str], env: dict) -> None:
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def find_uv(scratch: Path, env: dict) -> str:
    found = shutil.which("uv")
    if found:
        return found
    tools = scratch / "uv-tool"
    run([sys.executable, "-m", "venv", str(tools)], env)
    run([str(tools / "bin" / "pip"), "install", "--quiet", "uv"], env)
    return str(tools / "bin" / "uv")


def install_with_pip(venv: Path, env: dict) -> float:
    started = time.perf_counter()
    run([sys.executable, "-m", "venv", str(venv)], env)
    pip = str(venv / "bin" / "pip")
    run([pip, "install", "--quiet", "--no-cache-dir", "--upgrade", "pip"], env)
    run([pip, "install", "--quiet", "--no-cache-dir", "-c", str(LOCK), "-e", ".[dev]"], env)
    return time.perf_counter() - started


def install_with_uv(uv: str, venv: Path, cache: Path, env: dict) -> float:
    started = time.perf_counter()
    run([sys.executable, "-m", "venv", str(venv)], env)
    command = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run([*command, "-c", str(LOCK), "-e", ".[dev]"], {**env, "UV_CACHE_DIR": str(cache)})
    return time.perf_counter() - started


def main() -> None:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        uv = find_uv(scratch, env)
        uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout
        pip_seconds = install_with_pip(scratch / "venv-pip", env)
        print(f"pip: {pip_seconds:.1f} s", file=sys.stderr)
        uv_seconds = install_with_uv(uv, scratch / "venv-uv", scratch / "uv-cache", env)
        print(f"uv: {uv_seconds:.1f} s", file=sys.stderr)
        size_gb = folder_bytes(scratch / "venv-uv") / 1e9
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "python": platform.python_version(),
        "uv": uv_version.strip(),
        "lock": LOCK.name,
        "venv_size_gb": round(size_gb, 2),
        "fresh_install_seconds": {"pip": round(pip_seconds, 1), "uv": round(uv_seconds, 1)},
        "pip_over_uv": round(pip_seconds / uv_seconds, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
