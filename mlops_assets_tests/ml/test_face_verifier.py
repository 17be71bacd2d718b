"""The face verifier: Fisher's projection as scikit-learn computes it, a safe file format, and
(model tier) its behaviour on synthetic identities before and after a camera change."""

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml import face_metrics
from mlops_assets.ml.face_verifier import (
    FaceVerifier,
    Verification,
    fit_projection,
    train_face_verifier,
    verify_latency,
)


def cosines(embedded: np.ndarray) -> np.ndarray:
    unit = embedded / np.linalg.norm(embedded, axis=1, keepdims=True)
    return unit @ unit.T


def test_the_kept_arrays_reproduce_scikit_learns_transform():
    vectors, identities = synthetic_face_vectors(30, 6, seed=4)
    mean, projection = fit_projection(vectors, identities, 12)
    ours = FaceVerifier(mean, projection, 0.5, 1e-3).embed(vectors)
    theirs = LinearDiscriminantAnalysis(n_components=12).fit(vectors, identities)
    assert np.allclose(ours @ ours.T, cosines(theirs.transform(vectors)), atol=1e-8)


def test_components_are_bounded_by_the_identities():
    vectors, identities = synthetic_face_vectors(5, 4, seed=1)
    assert fit_projection(vectors, identities, 64)[1].shape == (vectors.shape[1], 4)


def test_training_needs_two_vectors_of_two_identities():
    vectors, identities = synthetic_face_vectors(3, 1, seed=1)
    with pytest.raises(ValueError, match="two identities with two vectors"):
        fit_projection(vectors, identities, 8)


@pytest.fixture(scope="module")
def small_verifier() -> FaceVerifier:
    vectors, identities = synthetic_face_vectors(60, 5, seed=2)
    return train_face_verifier(vectors, identities, target_far=0.01, components=16)


def test_verify_answers_score_match_and_threshold(small_verifier):
    vectors, _ = synthetic_face_vectors(2, 2, seed=9)
    same = small_verifier.verify(vectors[0], vectors[1])
    assert isinstance(same, Verification) and same.threshold == small_verifier.threshold
    assert same.match == (same.score >= small_verifier.threshold)
    assert small_verifier.verify(vectors[0], vectors[0]).score == pytest.approx(1.0)
    assert small_verifier.verify(vectors[0], vectors[2]).score < same.score


@pytest.mark.parametrize("bad", [np.zeros(7), np.full(128, np.nan), np.zeros((2, 2, 128))])
def test_verify_refuses_what_is_not_a_face_vector(small_verifier, bad):
    with pytest.raises(ValueError, match="finite values"):
        small_verifier.verify(bad, np.ones(128))


def test_save_and_load_round_trip_without_pickle(small_verifier, tmp_path):
    path = tmp_path / "verifier.npz"
    small_verifier.save(path)
    loaded = FaceVerifier.load(path)
    assert loaded.threshold == small_verifier.threshold
    assert loaded.target_far == small_verifier.target_far
    assert np.array_equal(loaded.projection, small_verifier.projection)
    vectors, _ = synthetic_face_vectors(1, 2, seed=3)
    assert loaded.verify(*vectors) == small_verifier.verify(*vectors)


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "hostile.npz"
    np.savez(path, format_version=1, mean=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        FaceVerifier.load(path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"format_version": 2}, "format version 2"),
        ({"mean": np.zeros(5)}, "mean (5,) and projection"),
        ({"threshold": np.nan}, "non-finite"),
    ],
)
def test_load_refuses_inconsistent_files(small_verifier, tmp_path, change, reason):
    arrays = {
        "format_version": 1,
        "mean": small_verifier.mean,
        "projection": small_verifier.projection,
        "threshold": small_verifier.threshold,
        "target_far": small_verifier.target_far,
    }
    np.savez(tmp_path / "bad.npz", **{**arrays, **change})
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        FaceVerifier.load(tmp_path / "bad.npz")


def test_load_refuses_a_file_without_the_arrays(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a face verifier"):
        FaceVerifier.load(tmp_path / "other.npz")


def test_latency_percentiles_are_ordered(small_verifier):
    vectors, _ = synthetic_face_vectors(3, 2, seed=5)
    latency = verify_latency(small_verifier, vectors, samples=30, warmup=5)
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]


# Model tier: trained on synthetic identities, judged on identities it never saw.
TARGET_FAR = 1e-3


@pytest.fixture(scope="module")
def trained() -> FaceVerifier:
    vectors, identities = synthetic_face_vectors(1500, 10, seed=11)
    return train_face_verifier(vectors, identities, TARGET_FAR)


def holdout(camera: int, seed: int = 12) -> tuple[np.ndarray, np.ndarray]:
    return synthetic_face_vectors(400, 10, seed=seed, camera=camera)


@pytest.mark.model
def test_high_tar_at_the_target_far_on_unseen_identities(trained):
    vectors, identities = holdout(camera=0)
    metrics = face_metrics.evaluate(trained.embed(vectors), identities, trained.threshold)
    assert metrics.tar_at_far >= 0.95
    assert metrics.far_at_threshold <= 3 * TARGET_FAR  # the validation threshold carries over
    assert metrics.eer < 0.02 and metrics.rank1_accuracy > 0.95
    assert metrics.genuine_pairs == 400 * 45 and metrics.impostor_pairs == 500_000


@pytest.mark.model
def test_the_learned_projection_beats_raw_cosine(trained):
    vectors, identities = holdout(camera=0)
    learned = face_metrics.evaluate(trained.embed(vectors), identities, trained.threshold)
    raw = face_metrics.evaluate(vectors, identities, trained.threshold)
    assert learned.eer < raw.eer / 5


@pytest.mark.model
def test_tar_drops_after_the_camera_change_until_retrained(trained):
    before = face_metrics.evaluate(trained.embed(holdout(0)[0]), holdout(0)[1], trained.threshold)
    vectors, identities = holdout(camera=1)
    stale = face_metrics.evaluate(trained.embed(vectors), identities, trained.threshold)
    assert stale.tar_at_far < before.tar_at_far - 0.3
    assert stale.eer > 5 * before.eer

    new_camera, new_identities = synthetic_face_vectors(1500, 10, seed=13, camera=1)
    retrained = train_face_verifier(new_camera, new_identities, TARGET_FAR)
    fresh = face_metrics.evaluate(retrained.embed(vectors), identities, retrained.threshold)
    assert fresh.tar_at_far >= 0.95


@pytest.mark.model
def test_the_threshold_is_fitted_on_identities_kept_out_of_the_projection(monkeypatch):
    """The projection never sees the identities its threshold is fitted on."""
    seen = {}
    real_fit = fit_projection

    def recording_fit(vectors, identities, components):
        seen["fit"] = set(identities.tolist())
        return real_fit(vectors, identities, components)

    real_pairs = face_metrics.pair_scores

    def recording_pairs(embedded, identities, max_pairs, seed):
        seen["validation"] = set(identities.tolist())
        return real_pairs(embedded, identities, max_pairs, seed)

    monkeypatch.setattr("mlops_assets.ml.face_verifier.fit_projection", recording_fit)
    monkeypatch.setattr("mlops_assets.ml.face_verifier.pair_scores", recording_pairs)
    vectors, identities = synthetic_face_vectors(100, 5, seed=14)
    train_face_verifier(vectors, identities, validation_fraction=0.2)
    assert len(seen["validation"]) == 20 and len(seen["fit"]) == 80
    assert not seen["fit"] & seen["validation"]
