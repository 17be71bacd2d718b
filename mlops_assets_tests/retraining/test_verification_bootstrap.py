"""The vectorised identity bootstrap of two face verifiers: the same figures as the metrics,
seeded, mirrored, bounded in cost, and bad input refused with a reason."""

import numpy as np
import pytest

from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.ml import face_metrics
from mlops_assets.ml.face_verifier import train_face_verifier
from mlops_assets.retraining.paired import PairedInputError
from mlops_assets.retraining.paired_bootstrap import paired_bootstrap, verification_metric
from mlops_assets.retraining.verification_bootstrap import verifier_bootstrap


@pytest.fixture(scope="module")
def two_verifiers():
    train, train_ids = synthetic_face_vectors(200, 6, seed=1)
    holdout, ids = synthetic_face_vectors(120, 5, seed=2)
    strong = train_face_verifier(train, train_ids, components=32, seed=0)
    weak = train_face_verifier(train, train_ids, components=4, seed=0)
    return (strong.embed(holdout), strong.threshold), (weak.embed(holdout), weak.threshold), ids


def test_whole_holdout_values_are_the_metrics(two_verifiers):
    strong, weak, ids = two_verifiers
    tar = verifier_bootstrap(strong, weak, ids, "tar_at_far", resamples=1000)
    expected = face_metrics.evaluate(strong[0], ids, strong[1], 100_000, 0)
    assert tar.challenger_value == pytest.approx(expected.tar_at_far)
    eer = verifier_bootstrap(strong, weak, ids, "eer", resamples=1000)
    # Binned into 2,048 score bins: the EER to within a bin.
    assert eer.challenger_value == pytest.approx(expected.eer, abs=2e-3)


@pytest.mark.parametrize("metric", ["tar_at_far", "eer"])
def test_the_stronger_verifier_is_better_and_the_swap_mirrors(two_verifiers, metric):
    strong, weak, ids = two_verifiers
    forward = verifier_bootstrap(strong, weak, ids, metric, resamples=1000, seed=3)
    backward = verifier_bootstrap(weak, strong, ids, metric, resamples=1000, seed=3)
    assert forward.difference > 0 and forward.low > 0 and forward.p_value < 0.05
    assert forward.n == 120 and forward.resamples == 1000
    assert backward.difference == pytest.approx(-forward.difference)
    # The same seed draws the same resamples: the swapped interval is the mirror image.
    assert (backward.low, backward.high) == pytest.approx((-forward.high, -forward.low))
    assert backward.p_value > 0.95
    assert forward.minimum_detectable is not None and forward.minimum_detectable > 0
    assert verifier_bootstrap(strong, weak, ids, metric, resamples=1000, seed=3) == forward


@pytest.mark.parametrize("metric", ["tar_at_far", "eer"])
def test_agrees_with_the_resampling_bootstrap(two_verifiers, metric):
    """The weighted form is the resampling of `paired_bootstrap`: the intervals agree to
    within the noise of the two sets of resamples."""
    strong, weak, ids = two_verifiers
    fast = verifier_bootstrap(strong, weak, ids, metric, resamples=1000)
    slow = paired_bootstrap(
        verification_metric(strong[0], ids, strong[1], metric, 20_000),
        verification_metric(weak[0], ids, weak[1], metric, 20_000),
        ids,
        metric=metric,
        higher_is_better=metric == "tar_at_far",
        resamples=300,
    )
    width = slow.high - slow.low
    assert fast.difference == pytest.approx(slow.difference, abs=0.01)
    assert fast.low == pytest.approx(slow.low, abs=0.3 * width)
    assert fast.high == pytest.approx(slow.high, abs=0.3 * width)


def test_identical_verifiers_give_no_difference(two_verifiers):
    strong, _, ids = two_verifiers
    result = verifier_bootstrap(strong, strong, ids, "eer", resamples=1000)
    assert result.difference == result.low == result.high == 0 and result.p_value == 1.0
    assert result.minimum_detectable is None


def test_bad_input_is_refused_with_a_reason(two_verifiers):
    (embedded, threshold), weak, ids = two_verifiers
    with pytest.raises(PairedInputError, match="the holdout is empty"):
        verifier_bootstrap((embedded[:0], threshold), (embedded[:0], threshold), ids[:0], "eer")
    with pytest.raises(PairedInputError, match="not the same holdout"):
        verifier_bootstrap((embedded[:-1], threshold), weak, ids, "eer")
    broken = embedded.copy()
    broken[3, 0] = np.nan
    with pytest.raises(PairedInputError, match="challenger's embeddings or threshold"):
        verifier_bootstrap((broken, threshold), weak, ids, "tar_at_far")
    with pytest.raises(PairedInputError, match="no genuine pair"):
        single = np.unique(ids, return_index=True)[1]
        verifier_bootstrap(
            (embedded[single], threshold), (embedded[single], 0.5), ids[single], "eer"
        )
    with pytest.raises(PairedInputError, match="no paired bootstrap for 'rank1_accuracy'"):
        verifier_bootstrap((embedded, threshold), weak, ids, "rank1_accuracy")
