"""Test helpers for the inference server: tiny Keras models and a folder-backed model source."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import keras
import mlflow
import yaml

from mlops_assets.backends.face_model_contract import VERIFIER_FILE, log_face_verifier
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.backends.risk_model_contract import RISK_FILE
from mlops_assets.contracts.fleet import FleetSpec, load_fleet, parse_fleet
from mlops_assets.contracts.stage_results import ChampionChange
from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml.face_verifier import FaceVerifier, train_face_verifier
from mlops_assets.ml.model import TrainSettings, build_model
from mlops_assets.ml.predictor import file_sha256
from mlops_assets.ml.risk_model import RiskModel
from mlops_assets.resources.tracking import ensure_experiment
from mlops_assets.serving.model_source import VersionRef
from mlops_assets.settings import Settings

TINY = TrainSettings(filters=2, dense_units=4)


def champion_change(version: str, previous: str | None, alias_moved: bool = True) -> ChampionChange:
    """What `champion_model` hands `deployment`: a promotion, or a kept champion."""
    return ChampionChange(
        month="2025-01-01",
        decision="promoted" if alias_moved else "defended",
        version=version,
        previous_version=previous,
        challenger_version=version,
        alias_moved=alias_moved,
    )


def tiny_model(seed: int) -> keras.Model:
    """An untrained small CNN; different seeds give different answers."""
    keras.utils.set_random_seed(seed)
    return build_model(TINY)


class FolderSource:
    """Model versions as local `.keras` files and a settable alias, shaped like RegistrySource."""

    def __init__(self, folder: Path, name: str = "test-model"):
        self.folder = folder
        self.name = name
        self.refs: dict[str, VersionRef] = {}
        self.files: dict[str, Path] = {}
        self.alias: str | None = None
        self.resolves = 0

    def add(self, version: str, model, sha256: str | None = "file") -> Path:
        """Saves `model` as `version` (a Keras model as `.keras`, a FaceVerifier as its
        `.npz`, a RiskModel as its `.npz`); sha256="file" records the file's real hash."""
        name = VERIFIER_FILE if isinstance(model, FaceVerifier) else "model.keras"
        if isinstance(model, RiskModel):
            name = RISK_FILE
        path = self.folder / f"v{version}" / name
        path.parent.mkdir(parents=True)
        model.save(path)
        digest = file_sha256(path) if sha256 == "file" else sha256
        self.refs[version] = VersionRef(self.name, version, f"run-{version}", str(path), digest)
        self.files[version] = path
        return path

    def resolve(self) -> VersionRef | None:
        self.resolves += 1
        return None if self.alias is None else self.refs[self.alias]

    def download(self, ref: VersionRef, destination: Path) -> Path:
        target = destination / self.files[ref.version].name
        shutil.copy(self.files[ref.version], target)
        return target


# A verification model beside the shipped photo classifier: the fleet every fleet-serving test
# uses, whatever the shipped fleet file holds.
FACE_VERIFIER_SPEC = {
    "name": "face_verifier",
    "description": "Verifies that two face vectors belong to one helper.",
    "source": {"kind": "face_vectors", "queue": "face.registered"},
    "trainer": {"builtin": "face_projection"},
    "gates": [
        {
            "name": "tar_at_far_above_minimum",
            "metric": "tar_at_far",
            "comparison": ">=",
            "threshold": 0.9,
            "severity": "ERROR",
        }
    ],
    "min_improvement": 0.0,
    "target_far": 0.001,
    "cadence": "0 3 * * 1",
    "registry_name": "face-verifier",
    "serving_route": "/models/face_verifier",
    "monitor": {"target_metric": "tar_at_far", "target_value": 0.9},
}


def two_model_fleet_text() -> str:
    """A fleet file's text: the shipped `task_photos` entry and `FACE_VERIFIER_SPEC`."""
    photos = load_fleet().model("task_photos").model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump({"schema_version": 1, "models": [photos, FACE_VERIFIER_SPEC]})


def two_model_fleet() -> FleetSpec:
    return parse_fleet(two_model_fleet_text(), "two-model test fleet")


def tiny_verifier(seed: int, identities: int = 60) -> FaceVerifier:
    """A face verifier trained on a few synthetic identities; seeds give different models."""
    vectors, identity = synthetic_face_vectors(identities, 6, seed=seed)
    return train_face_verifier(vectors, identity, target_far=0.01, components=16, seed=seed)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(env: dict[str, str], log_path: Path, startup_s: float = 120.0):
    """Starts `python -m mlops_assets.serving` on a free 127.0.0.1 port; yields its URL.

    Args:
        env: MLOPS_* / MLFLOW_* variables for the server (the rest of the environment is kept,
            minus any MLOPS_* / MLFLOW_* of the caller).
        log_path: where the server's output goes (shown when it fails to start).
        startup_s: how long to wait for /health.
    """
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    clean.update(env, MLOPS_SERVING_HOST="127.0.0.1", MLOPS_SERVING_PORT=str(port))
    clean.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_assets.serving"], env=clean, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + startup_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited: {log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not up in {startup_s} s: {log_path.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def log_and_register(settings: Settings, registry: RegistryClient, seed: int, sha256=None):
    """Logs a tiny model as `trained_model` does and registers it; returns (version, model)."""
    model = tiny_model(seed)
    experiment_id = ensure_experiment(
        settings.resolved_tracking_uri, settings.experiment, settings.resolved_artifact_location
    )
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.tensorflow.log_model(
            model, name="model", pip_requirements=["tensorflow-cpu", "keras"]
        )
    with tempfile.TemporaryDirectory() as scratch:
        digest = file_sha256(registry.download_keras(info.model_uri, scratch))
    registered = registry.register(info.model_uri, run.info.run_id, sha256 or digest)
    return registered.version, model


def register_verifier(settings: Settings, registry: RegistryClient, seed: int) -> str:
    """Logs a tiny verifier through its MLflow model contract in a run of its own and
    registers it (sha256, and signature when the registry signs); returns the version."""
    experiment_id = ensure_experiment(
        settings.resolved_tracking_uri, settings.experiment, settings.resolved_artifact_location
    )
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        model_uri, sha256 = log_face_verifier(
            tiny_verifier(seed), synthetic_face_vectors(2, 2, seed=0)[0]
        )
    return registry.register(model_uri, run.info.run_id, sha256).version
