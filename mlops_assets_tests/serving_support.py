"""Test helpers for the inference server: tiny Keras models and a folder-backed model source."""

import shutil
from pathlib import Path

import keras

from mlops_assets.ml.model import TrainSettings, build_model
from mlops_assets.ml.predictor import file_sha256
from mlops_assets.serving.model_source import VersionRef

TINY = TrainSettings(filters=2, dense_units=4)


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

    def add(self, version: str, model: keras.Model, sha256: str | None = "file") -> Path:
        """Saves `model` as `version`; sha256="file" records the file's real hash."""
        path = self.folder / f"v{version}" / "model.keras"
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
        target = destination / "model.keras"
        shutil.copy(self.files[ref.version], target)
        return target
