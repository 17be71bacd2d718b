"""The logged model's contract: pinned requirements, the datasets' names, schema and digest."""

import hashlib

import numpy as np
import pandas as pd

from mlops_assets.backends import logged_model
from mlops_assets.backends.registry import logged_model_id


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pixels": list(rng.integers(0, 17, size=(rows, 64), dtype=np.uint8)),
            "label": rng.integers(0, 10, size=rows),
        }
    )


def test_requirements_are_pinned_to_what_is_installed():
    pins = dict(r.split("==") for r in logged_model.pinned_requirements())
    assert {"keras", "numpy"} <= set(pins) and {"tensorflow-cpu", "tensorflow"} & set(pins)
    assert all(version[0].isdigit() for version in pins.values())


def test_a_snapshot_becomes_a_dataset_with_a_column_per_grey_level(tmp_path, recwarn):
    source = (tmp_path / "training_data" / "2025-01-01-abc.parquet").as_uri()
    dataset = logged_model.snapshot_dataset(frame(30), "train-2025-01-01-abc", source)
    assert dataset.name == "train-2025-01-01-abc"
    assert dataset.targets == "label"
    assert len(dataset.df.columns) == 65 and dataset.df.columns[-1] == "label"
    assert dataset.source.to_dict()["uri"] == source
    assert not [w for w in recwarn if "interpreted" in str(w.message)]


def test_the_digest_follows_the_content():
    first = logged_model.snapshot_dataset(frame(30, seed=1), "a", None)
    same = logged_model.snapshot_dataset(frame(30, seed=1), "a", None)
    other = logged_model.snapshot_dataset(frame(30, seed=2), "a", None)
    assert first.digest == same.digest != other.digest


def test_an_empty_holdout_is_still_a_dataset():
    assert len(logged_model.snapshot_dataset(frame(0), "holdout-empty", None).df) == 0


def test_logged_model_ids_come_from_mlflow_3_model_uris():
    assert logged_model_id("models:/m-0123abcd") == "m-0123abcd"
    assert logged_model_id("runs:/abc/model") is None


def test_the_logged_model_is_hashed_before_its_upload(tmp_path):
    """The hash the pipeline signs is of the file it wrote, not of what the store hands back."""
    import mlflow

    from mlops_assets.backends.registry import RegistryClient
    from mlops_assets_tests.support.serving import tiny_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("hash", artifact_location=(tmp_path / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info, sha256 = logged_model.log_keras_model(
            tiny_model(1), np.zeros((4, 8, 8, 1), np.float32)
        )
    downloaded = RegistryClient(uri, "hash").download_keras(info.model_uri, tmp_path / "dl")
    with open(downloaded, "rb") as stored:
        assert sha256 == hashlib.file_digest(stored, "sha256").hexdigest()
