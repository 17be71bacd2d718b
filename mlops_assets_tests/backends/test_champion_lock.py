"""Writers of `@champion` in separate processes, on a SQLite registry and on the MLflow server
with PostgreSQL: a rollback from the command line that lands inside a promotion waits for it.

The promotion stops inside its alias write (support/paused_promotion.py) until the test says go,
so the interleaving is forced, not timed.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlops_assets
from mlops_assets.backends.champion_lock import WAITING
from mlops_assets.backends.registry import RegistryClient
from mlops_assets_tests.support.registry import register

GIVE_UP_S = 300


def environment(registry: RegistryClient, home: Path, lock_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    env.update(
        MLOPS_HOME=str(home),
        MLFLOW_TRACKING_URI=registry.tracking_uri,
        MLOPS_MODEL_NAME=registry.model_name,
        RABBITMQ_URL="",
        PYTHONPATH=os.pathsep.join(
            [str(Path(mlops_assets.__file__).parents[1]), env.get("PYTHONPATH", "")]
        ),
    )
    if lock_url:
        env["MLOPS_REGISTRY_LOCK_URL"] = lock_url
    return env


def wait_until(condition) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while not condition():
        assert time.monotonic() < deadline, "a writer process never got there"
        time.sleep(0.02)


def moves_chain(registry: RegistryClient) -> list[tuple[str, str, str | None]]:
    return [
        (e["action"], e["version"], e["previous"])
        for e in registry.history()
        if e["action"] in ("promoted", "rolled_back")
    ]


def rollback_inside_a_promotion(registry: RegistryClient, tmp_path: Path, lock_url: str = ""):
    # A tracking server takes no local source without a run: placeholders in its bucket.
    v1, v2, v3 = (
        register(registry, tmp_path, 3)
        if registry.tracking_uri.startswith("sqlite")
        else [
            registry.register(f"s3://mlops/placeholder-{i}", None, "0" * 64).version
            for i in range(3)
        ]
    )
    registry.promote(v1, "first")
    registry.promote(v2, "second")
    env = environment(registry, tmp_path / "var", lock_url)
    signals = tmp_path / "signals"
    signals.mkdir()
    promotion = subprocess.Popen(
        [sys.executable, "-m", "mlops_assets_tests.support.paused_promotion"]
        + [registry.tracking_uri, registry.model_name, v3, str(signals), lock_url],
        env=env,
    )
    wait_until(lambda: (signals / "ready").exists() or promotion.poll() is not None)
    assert promotion.poll() is None, "the promotion ended before its alias write"
    with open(tmp_path / "rollback.log", "w+") as output:
        rollback = subprocess.Popen(
            [sys.executable, "-c", "from mlops_assets.tools import cli; cli.main(['rollback'])"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        # Either the rollback finished inside the promotion, or it waits for the lock.
        wait_until(
            lambda: (
                rollback.poll() is not None or WAITING in (tmp_path / "rollback.log").read_text()
            )
        )
        (signals / "go").touch()
        assert promotion.wait(GIVE_UP_S) == 0
        rollback.wait(GIVE_UP_S)
    chain = moves_chain(registry)
    champion = None
    for action, version, previous in chain:
        assert previous == champion, f"{action} v{version} recorded v{previous}, not v{champion}"
        champion = version
    assert registry.champion().version == champion == v2
    assert chain[-2:] == [("promoted", v3, v2), ("rolled_back", v2, v3)]


def test_case5_a_cli_rollback_inside_a_promotion_waits_for_it_on_sqlite(tmp_path):
    registry = RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}", "lock-test")
    rollback_inside_a_promotion(registry, tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("mlflow_database", ["postgresql"], indirect=True)
def test_case5_a_cli_rollback_inside_a_promotion_waits_for_it_on_postgresql(
    mlflow_server, mlflow_database, tmp_path
):
    model = f"lock-test-{os.urandom(4).hex()}"
    registry = RegistryClient(mlflow_server.url, model, lock_url=mlflow_database)
    rollback_inside_a_promotion(registry, tmp_path, mlflow_database)
