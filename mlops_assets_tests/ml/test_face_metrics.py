"""Face verification metrics: identity-disjoint splits, pair counts, the FAR threshold, EER and
rank-1 on cases whose answers are known."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlops_assets.ml import face_metrics


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=2, max_size=200).filter(lambda ids: len(set(ids)) > 1),
    st.floats(0, 1),
    st.integers(0, 2**32 - 1),
)
def test_the_split_is_identity_disjoint_and_covers_every_row(ids, fraction, seed):
    identities = np.array(ids)
    kept, held = face_metrics.identity_disjoint_split(identities, fraction, seed)
    assert (kept ^ held).all()  # every row on exactly one side
    assert not set(identities[kept]) & set(identities[held])
    assert set(identities[kept]) and set(identities[held])  # neither side empty


def test_the_split_is_seeded():
    identities = np.repeat(np.arange(50), 3)
    first = face_metrics.identity_disjoint_split(identities, 0.2, 7)[1]
    assert (first == face_metrics.identity_disjoint_split(identities, 0.2, 7)[1]).all()
    assert (first != face_metrics.identity_disjoint_split(identities, 0.2, 8)[1]).any()
    assert len(set(identities[first])) == 10


def test_one_identity_cannot_be_split():
    with pytest.raises(ValueError, match="two identities"):
        face_metrics.identity_disjoint_split(np.zeros(5), 0.5, 0)


def unit_rows(n: int, dimension: int = 8, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dimension))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_every_genuine_pair_and_every_impostor_pair_when_few():
    identities = np.array([2, 0, 2, 1, 0, 2])  # sizes 2, 1, 3: 1 + 0 + 3 genuine pairs
    embedded = unit_rows(6)
    genuine, impostor = face_metrics.pair_scores(embedded, identities, 1000, 0)
    assert len(genuine) == 4 and len(impostor) == 15 - 4
    scores = embedded @ embedded.T
    expected = sorted(
        scores[i, j] for i in range(6) for j in range(i + 1, 6) if identities[i] == identities[j]
    )
    assert np.allclose(sorted(genuine), expected)


def test_impostor_pairs_are_drawn_when_many_and_never_genuine():
    identities = np.repeat(np.arange(100), 4)
    embedded = np.eye(400)[:, :400]  # rows orthogonal: any impostor pair scores 0
    embedded[1::4] = embedded[0::4]  # ... and a genuine pair scores 1
    _, impostor = face_metrics.pair_scores(embedded, identities, 5000, 3)
    assert len(impostor) == 5000 and (impostor == 0).all()


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1, 1)),
    st.sampled_from([1e-3, 0.01, 0.1, 0.5]),
)
def test_the_threshold_keeps_false_accepts_at_most_the_target(impostor, far):
    threshold = face_metrics.threshold_at_far(impostor, far)
    assert np.mean(impostor >= threshold) <= far
    # and it is the lowest such threshold: one notch lower admits more than the target
    lower = np.max(impostor[impostor < threshold], initial=-math.inf)
    if np.isfinite(lower):
        assert np.mean(impostor >= lower) > far


@pytest.mark.parametrize("far", [0.0, 1.0])
def test_the_far_must_be_a_rate(far):
    with pytest.raises(ValueError):
        face_metrics.threshold_at_far(np.array([0.1, 0.2]), far)


def test_eer_of_separated_and_of_identical_scores():
    assert face_metrics.equal_error_rate(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 0.0
    same = np.linspace(0, 1, 1001)
    assert face_metrics.equal_error_rate(same, same) == pytest.approx(0.5, abs=0.01)


def test_rank1_uses_each_identity_first_row_as_gallery():
    embedded = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.436], [0.8, 0.6]])
    identities = np.array(["a", "b", "a", "b"])
    rank1, probes = face_metrics.rank1_accuracy(embedded, identities)
    # The third row finds a's gallery entry, the fourth too (wrong); with the last rows as
    # the gallery both probes would be right.
    assert probes == 2 and rank1 == 0.5


def test_evaluate_reports_the_counts_and_the_fixed_threshold():
    identities = np.repeat(np.arange(5), 3)
    embedded = np.eye(5)[identities]  # perfect: genuine 1, impostor 0
    metrics = face_metrics.evaluate(embedded, identities, threshold=0.5)
    assert (metrics.tar_at_far, metrics.far_at_threshold, metrics.eer) == (1.0, 0.0, 0.0)
    assert metrics.rank1_accuracy == 1.0 and metrics.threshold == 0.5
    assert (metrics.identities, metrics.genuine_pairs, metrics.impostor_pairs) == (5, 15, 90)
    assert metrics.probes == 10
    strict = face_metrics.evaluate(embedded, identities, threshold=1.5)
    assert strict.tar_at_far == 0.0


def test_evaluate_refuses_a_holdout_without_pairs():
    with pytest.raises(ValueError, match="two identities"):
        face_metrics.evaluate(np.eye(3), np.array([0, 1, 2]), 0.5)
