"""McNemar's exact test, Newcombe's interval and the power of a paired holdout comparison."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlops_assets.retraining.paired import (
    PairedInputError,
    compare_correctness,
    correctness,
    critical_count,
    mcnemar_p,
    minimum_detectable_difference,
    newcombe_interval,
)
from mlops_assets_tests.support.paired import table


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (2, 1, 4 / 8),  # P(X >= 2 | 3 flips): the issue's n = 150 example
        (10, 0, 1 / 1024),
        (5, 1, 7 / 64),  # (C(6,5) + C(6,6)) / 2^6
        (0, 3, 1.0),
        (3, 3, 42 / 64),  # (20 + 15 + 6 + 1) / 64
    ],
)
def test_one_sided_p_is_the_binomial_tail_of_the_discordant_pairs(b, c, p):
    result = compare_correctness(*table(140, b, c, 150 - 140 - b - c))
    assert (result.b, result.c, result.n) == (b, c, 150)
    assert result.p_value == pytest.approx(p, rel=1e-12)


def test_the_issues_example_reads_as_noise():
    result = compare_correctness(*table(143, 2, 1, 4))
    assert result.challenger_accuracy == pytest.approx(145 / 150)
    assert result.champion_accuracy == pytest.approx(144 / 150)
    assert result.reason == (
        "challenger +0.7 points, 95 % interval -2.7..+4.3, p = 0.50 at n = 150 (b = 2, c = 1)"
    )
    assert result.minimum_detectable is None  # 3 discordant pairs can never reach p < 0.05


@pytest.mark.parametrize(
    ("cells", "interval"),
    [
        # Worked examples of Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency
        # Tables" (2017), ch. 8, Newcombe's square-and-add interval: Bentur 2009, Cavo 2012.
        ((1, 1, 7, 12), (-0.5069, -0.0256)),
        ((59, 6, 16, 80), (-0.1186, -0.0046)),
    ],
)
def test_newcombe_interval_matches_published_examples(cells, interval):
    low, high = newcombe_interval(*cells, confidence=0.95)
    assert (low, high) == pytest.approx(interval, abs=1e-4)


def test_a_much_better_challenger_is_significant_with_the_interval_above_zero():
    result = compare_correctness(*table(130, 12, 1, 7))
    assert result.p_value == pytest.approx(stats.binom.sf(11, 13, 0.5))
    assert result.p_value < 0.01 and result.low > 0
    assert result.minimum_detectable is not None and result.minimum_detectable < 0.11


counts = st.integers(min_value=0, max_value=60)


@given(counts, counts, counts, counts)
@settings(max_examples=200, deadline=None)
def test_properties_of_any_table(a, b, c, d):
    if a + b + c + d == 0:
        return
    result = compare_correctness(*table(a, b, c, d))
    swapped = compare_correctness(*reversed(table(a, b, c, d)))
    assert 0 <= result.p_value <= 1 and 0 <= result.p_value_two_sided <= 1
    assert result.low - 1e-12 <= result.difference <= result.high + 1e-12
    assert -1 <= result.low <= result.high <= 1
    # Swapping the models mirrors everything.
    assert (swapped.b, swapped.c) == (c, b)
    assert swapped.difference == pytest.approx(-result.difference)
    assert (swapped.low, swapped.high) == pytest.approx((-result.high, -result.low))
    assert swapped.p_value_two_sided == pytest.approx(result.p_value_two_sided)
    tie = stats.binom.pmf(b, b + c, 0.5) if b + c else 1.0
    assert result.p_value + swapped.p_value == pytest.approx(1 + tie)
    if b == c == 0:
        assert result.p_value == 1.0 and result.difference == 0


def test_correctness_accepts_zero_one_and_labels():
    assert correctness(np.array([1, 2, 3]), np.array([1, 0, 3])).tolist() == [True, False, True]
    result = compare_correctness(np.array([1.0, 0.0, 1.0]), np.array([1, 1, 0]))
    assert (result.b, result.c, result.both_right) == (1, 1, 1)


@pytest.mark.parametrize(
    ("challenger", "champion", "message"),
    [
        ([], [], "empty"),
        ([1, 0, 1], [1, 0], "answered 3 samples, the champion 2"),
        ([1.0, float("nan")], [1, 0], "not numbers"),
        ([1, 0.5], [1, 0], "other than 0 and 1"),
        ([[1, 0]], [[1, 0]], "one value per sample"),
    ],
)
def test_bad_input_raises_a_paired_input_error(challenger, champion, message):
    with pytest.raises(PairedInputError, match=message):
        compare_correctness(np.array(challenger), np.array(champion))
    with pytest.raises(PairedInputError):
        correctness(np.array([1, 2]), np.array([1]))


def test_critical_count_is_the_first_b_with_tail_below_alpha():
    assert critical_count(4, 0.05) is None  # 1/16 = 0.0625
    assert critical_count(5, 0.05) == 5  # 1/32 = 0.031
    assert critical_count(10, 0.05) == 9  # P(X >= 9) = 11/1024 = 0.011, P(X >= 8) = 0.055
    assert critical_count(0, 0.05) is None
    assert mcnemar_p(0, 0) == 1.0


def test_minimum_detectable_difference_reaches_the_power_and_shrinks_with_n():
    n, m = 150, 20
    delta = minimum_detectable_difference(n, m, 0.05)
    k = critical_count(m, 0.05)
    pi = (1 + delta * n / m) / 2  # the discordant share favouring the challenger
    assert stats.binom.sf(k - 1, m, pi) == pytest.approx(0.80, abs=1e-6)
    # The same discordance rate on ten times the holdout detects a smaller difference.
    assert minimum_detectable_difference(10 * n, 10 * m, 0.05) < delta
    assert minimum_detectable_difference(n, 4, 0.05) is None


def test_as_metadata_is_flat_and_names_every_number():
    metadata = compare_correctness(*table(143, 2, 1, 4)).as_metadata()
    for key in ("n", "b", "c", "difference", "low", "high", "p_value", "minimum_detectable"):
        assert f"paired_{key}" in metadata
    assert metadata["paired_minimum_detectable"] == "none"
    assert metadata["paired_reason"].startswith("challenger +0.7 points")
