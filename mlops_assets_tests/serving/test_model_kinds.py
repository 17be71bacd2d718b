"""What a verification version must pass before it serves: its hash, the contract's vector
dimension, a threshold that is a cosine, and a vector scoring 1 against itself."""

from dataclasses import replace

import numpy as np
import pytest

from mlops_assets.serving.holder import ModelHolder
from mlops_assets.serving.model_kinds import (
    SmokeTestError,
    load_verifier,
    verifier_smoke_test,
)
from mlops_assets.serving.reloader import ModelReloader
from mlops_assets_tests.support.serving import FolderSource, tiny_verifier


@pytest.fixture(scope="module")
def verifier():
    return tiny_verifier(1)


def test_a_trained_verifier_passes(verifier):
    verifier_smoke_test(verifier)


def test_a_verifier_of_another_dimension_is_refused(verifier):
    narrow = replace(verifier, mean=verifier.mean[:64], projection=verifier.projection[:64])
    with pytest.raises(SmokeTestError, match="takes vectors of 64 values; face vectors have 128"):
        verifier_smoke_test(narrow)


def test_a_threshold_that_is_not_a_cosine_is_refused(verifier):
    with pytest.raises(SmokeTestError, match="threshold 3.0 is not a cosine"):
        verifier_smoke_test(replace(verifier, threshold=3.0))


def test_a_projection_that_loses_every_vector_is_refused(verifier):
    blind = replace(verifier, projection=np.zeros_like(verifier.projection))
    with pytest.raises(SmokeTestError, match="against itself"):
        verifier_smoke_test(blind)


def test_the_reloader_refuses_a_wrong_verifier_and_keeps_the_served_one(tmp_path, verifier):
    faces = FolderSource(tmp_path / "faces", name="face-verifier")
    faces.add("1", verifier)
    faces.add("2", replace(verifier, threshold=-2.0))
    reloader = ModelReloader(ModelHolder(), faces, poll_interval_s=0, loader=load_verifier)
    faces.alias = "1"
    assert reloader.reload("startup").status == "swapped"
    faces.alias = "2"
    outcome = reloader.reload("deploy v2")
    assert outcome.status == "failed" and "is not a cosine" in outcome.error
    assert reloader.holder.current.version == "1"
    assert reloader.holder.current.verify(np.eye(128)[0], np.eye(128)[0]).score == pytest.approx(1)
