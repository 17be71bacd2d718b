"""The paired bootstrap over groups: seeded, mirrored, and on two synthetic face verifiers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml.face_verifier import train_face_verifier
from mlops_assets.retraining.paired import PairedInputError
from mlops_assets.retraining.paired_bootstrap import paired_bootstrap, verification_metric


def accuracy_of(correct: np.ndarray):
    return lambda rows, labels: float(np.mean(correct[rows]))


def compare(challenger, champion, groups, **kwargs):
    kwargs.setdefault("resamples", 1000)
    return paired_bootstrap(
        accuracy_of(np.asarray(challenger, float)),
        accuracy_of(np.asarray(champion, float)),
        np.asarray(groups),
        metric="accuracy",
        higher_is_better=True,
        **kwargs,
    )


def test_identical_models_give_no_difference_and_p_one():
    correct = np.random.default_rng(0).random(200) < 0.9
    result = compare(correct, correct, np.arange(200) // 4)
    assert result.difference == result.low == result.high == 0
    assert result.p_value == 1.0 and result.n == 50 and result.resamples == 1000


def test_a_clearly_better_challenger_has_an_interval_above_zero_and_small_p():
    rng = np.random.default_rng(1)
    champion = rng.random(400) < 0.7
    challenger = champion | (rng.random(400) < 0.5)
    result = compare(challenger, champion, np.arange(400) // 4)
    assert result.difference == pytest.approx(challenger.mean() - champion.mean())
    assert result.low > 0 and result.p_value == pytest.approx(1 / 1001)
    assert result.reason.startswith("accuracy: challenger +")
    assert "at n = 100 groups (1000 resamples)" in result.reason


def test_groups_are_resampled_whole():
    # Each group's rows are all right for one model and all wrong for the other: a resample
    # that split groups would give differences off the grid of whole groups.
    seen = []

    def metric(rows, labels):
        seen.append((rows.copy(), labels.copy()))
        return 0.0

    groups = np.repeat([7, 3, 5], [2, 3, 4])
    paired_bootstrap(metric, metric, groups, metric="m", higher_is_better=True, resamples=50)
    for rows, labels in seen[2:]:
        for label in np.unique(labels):
            assert len(np.unique(groups[rows[labels == label]])) == 1
        assert len(np.unique(labels)) == 3  # a group drawn twice counts as two groups


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_deterministic_for_a_seed_and_mirrored_by_a_swap(data_seed, seed):
    rng = np.random.default_rng(data_seed)
    a, b = rng.random(60) < 0.8, rng.random(60) < 0.8
    groups = np.arange(60) // 3
    first = compare(a, b, groups, seed=seed)
    assert compare(a, b, groups, seed=seed) == first
    swapped = compare(b, a, groups, seed=seed)
    assert swapped.difference == pytest.approx(-first.difference)
    assert (swapped.low, swapped.high) == pytest.approx((-first.high, -first.low))
    assert 0 < first.p_value <= 1
    assert first.low <= first.difference <= first.high


def test_lower_is_better_metrics_count_a_lower_challenger_as_better():
    errors = {"challenger": 0.05, "champion": 0.10}
    result = paired_bootstrap(
        lambda rows, labels: errors["challenger"],
        lambda rows, labels: errors["champion"],
        np.arange(10),
        metric="eer",
        higher_is_better=False,
    )
    assert result.difference == pytest.approx(0.05) and result.low == pytest.approx(0.05)


def test_bad_input_raises_a_paired_input_error():
    with pytest.raises(PairedInputError, match="empty"):
        compare([], [], [])
    with pytest.raises(PairedInputError, match="champion's accuracy on the holdout is nan"):
        compare([1, 0], [float("nan"), 1], [0, 1])

    def unjudgeable(rows, labels):
        raise ValueError("needs two identities")

    with pytest.raises(PairedInputError, match="challenger's m on the holdout is nan"):
        paired_bootstrap(unjudgeable, unjudgeable, np.arange(3), metric="m", higher_is_better=True)


def test_bootstrap_of_tar_for_two_synthetic_face_verifiers():
    vectors, identities = synthetic_face_vectors(60, 6, seed=1)
    holdout, holdout_ids = synthetic_face_vectors(40, 4, seed=2)
    strong = train_face_verifier(vectors, identities, components=32, seed=0)
    weak = train_face_verifier(vectors[:60], identities[:60], components=3, seed=0)

    def tar(verifier):
        return verification_metric(
            verifier.embed(holdout), holdout_ids, verifier.threshold, "tar_at_far"
        )

    result = paired_bootstrap(
        tar(strong),
        tar(weak),
        holdout_ids,
        metric="tar_at_far",
        higher_is_better=True,
        resamples=1000,
        seed=5,
    )
    assert result.n == 40 and result.failed_resamples == 0
    assert result.challenger_value > result.champion_value
    assert result.low > 0 and result.p_value < 0.05


def test_two_copies_of_one_identity_are_never_impostors():
    embedded = np.repeat(np.eye(3)[:2], 2, axis=0)  # identity 0: rows 0, 1; identity 1: 2, 3
    identities = np.array([0, 0, 1, 1])
    rows, copies = np.array([0, 1, 0, 1, 2, 3]), np.array([0, 0, 1, 1, 2, 2])  # 0 drawn twice
    eer = verification_metric(embedded, identities, 0.5, "eer")
    tar = verification_metric(embedded, identities, 0.5, "tar_at_far")
    assert eer(rows, copies) == 0.0 and tar(rows, copies) == 1.0
    singles = verification_metric(np.eye(3), np.arange(3), 0.5, "tar_at_far")
    with pytest.raises(ValueError, match="no genuine pair"):
        singles(np.array([0, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="rank1_accuracy"):
        verification_metric(embedded, identities, 0.5, "rank1_accuracy")


def test_bootstrap_of_eer_for_two_synthetic_face_verifiers():
    vectors, identities = synthetic_face_vectors(60, 6, seed=1)
    holdout, holdout_ids = synthetic_face_vectors(40, 4, seed=2)
    strong = train_face_verifier(vectors, identities, components=32, seed=0)
    weak = train_face_verifier(vectors[:60], identities[:60], components=3, seed=0)
    challenger, champion = (
        verification_metric(m.embed(holdout), holdout_ids, m.threshold, "eer", 5000)
        for m in (strong, weak)
    )
    result = paired_bootstrap(
        challenger, champion, holdout_ids, metric="eer", higher_is_better=False, resamples=200
    )
    assert result.challenger_value < result.champion_value  # the strong verifier errs less
    assert result.difference > 0 and result.low > 0 and result.p_value < 0.05
