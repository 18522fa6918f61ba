"""Agreement statistics against values computed by hand (the arithmetic is in the comments), with the
degenerate cases: no items, one class only, ties, missing ratings, NaN resamples."""

from __future__ import annotations

import math

import pytest

from ragsweep.metrics.agreement import (
    accuracy, balanced_accuracy, bootstrap_interval, cohen_kappa, kendall_tau_b, krippendorff_alpha, spearman, weighted_kappa,
)

NAN = float("nan")


def test_accuracy_and_balanced_accuracy():
    truth, pred = [1, 1, 1, 0], [1, 1, 0, 0]
    assert accuracy(truth, pred) == 0.75
    assert balanced_accuracy(truth, pred) == pytest.approx((2 / 3 + 1) / 2)  # recall of class 1: 2/3, of class 0: 1
    assert balanced_accuracy([1, 1, 1, 0], [1, 1, 1, 1]) == 0.5  # the majority label always: 1 / number of classes
    assert accuracy([], []) != accuracy([], [])  # NaN
    assert balanced_accuracy(["a", "a"], ["a", "a"]) == 1.0  # one class only: its recall
    with pytest.raises(ValueError, match="different numbers of items: 2 vs 1"):
        accuracy([1, 2], [1])


def test_weighted_kappa_quadratic_and_linear():
    a, b = [0, 1, 2, 2], [0, 2, 2, 1]
    # w = ((i-j)/2)^2. Observed: w(1,2) + w(2,1) = 0.25 + 0.25 over 4 items = 0.125. Marginals a = b = (1, 1, 2):
    # expected = sum w_ij a_i b_j / 16 = (0.25 + 2 + 0.25 + 0.5 + 2 + 0.5) / 16 = 5.5 / 16; kappa = 1 - 0.125 / 0.34375 = 7/11.
    assert weighted_kappa(a, b, [0, 1, 2]) == pytest.approx(7 / 11)
    # Linear w = |i-j|/2: observed (0.5 + 0.5) / 4 = 0.25; expected (0.5 + 2 + 0.5 + 1 + 2 + 1) / 16 = 7/16; 1 - 4/7 = 3/7.
    assert weighted_kappa(a, b, [0, 1, 2], weights="linear") == pytest.approx(3 / 7)
    assert weighted_kappa([0, 1, 2], [0, 1, 2], [0, 1, 2]) == 1.0
    assert math.isnan(weighted_kappa([1, 1], [1, 1], [0, 1, 2]))  # one label throughout: nothing expected
    assert math.isnan(weighted_kappa([], [], [0, 1]))
    with pytest.raises(ValueError, match=r"labels outside the ordered scale \[0, 1\]: \['7'\]"):
        weighted_kappa([0, 7], [0, 1], [0, 1])


def test_krippendorff_alpha_at_each_level():
    # Units (1,2), (2,3), (1,1): coincidences o12 = o21 = o23 = o32 = 1, o11 = 2; n1 = 3, n2 = 2, n3 = 1, n = 6.
    units = [[1, 2], [2, 3], [1, 1]]
    # Nominal: D_o = 4/6; D_e = (2*3*2 + 2*3*1 + 2*2*1) / 30 = 22/30; alpha = 1 - (4/6)/(22/30) = 1/11.
    assert krippendorff_alpha(units, "nominal") == pytest.approx(1 / 11)
    # Interval: delta (1,2) = (2,3) = 1, (1,3) = 4. D_o = 4/6; D_e = (12 + 4 + 2*3*1*4) / 30 = 40/30; alpha = 1/2.
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.5)
    # Ordinal: delta(1,2) = (5 - 2.5)^2 = 6.25, delta(2,3) = (3 - 1.5)^2 = 2.25, delta(1,3) = (6 - 2)^2 = 16.
    # D_o = (12.5 + 4.5) / 6 = 17/6; D_e = (2*6*6.25 + 2*2*2.25 + 2*3*16) / 30 = 6; alpha = 1 - 17/36 = 19/36.
    assert krippendorff_alpha(units, "ordinal") == pytest.approx(19 / 36)
    # A unit with one rating is not pairable and changes nothing; missing ratings are None.
    assert krippendorff_alpha([*units, [2, None], [None, None]], "nominal") == pytest.approx(1 / 11)
    # Two raters, units (1,1), (2,2), (1,2): alpha = 1 - (2/6) / (18/30) = 4/9, while Cohen's kappa is 0.4.
    assert krippendorff_alpha([[1, 1], [2, 2], [1, 2]]) == pytest.approx(4 / 9)
    assert cohen_kappa([1, 2, 1], [1, 2, 2]) == pytest.approx(0.4)
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))  # one value throughout
    assert math.isnan(krippendorff_alpha([[1], [None, 2]]))  # nothing pairable
    with pytest.raises(ValueError, match="level must be"):
        krippendorff_alpha(units, "ratio")


def test_spearman_with_ties_and_constants():
    # Ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): cov 4.5, variances 4.5 and 5: rho = 4.5 / sqrt(22.5) = sqrt(0.9).
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(math.sqrt(0.9))
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3])) and math.isnan(spearman([1], [2]))


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant pair
    # One tie on each side: 4 concordant, 0 discordant, 6 pairs: 4 / sqrt((6 - 1) * (6 - 1)).
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert kendall_tau_b([3, 2, 1], [1, 2, 3]) == -1.0
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3])) and math.isnan(kendall_tau_b([1], [2]))


def test_bootstrap_interval_is_seeded_resamples_groups_and_skips_nan():
    truth = [1, 0, 1, 1, 0, 1, 0, 0]
    pred = [1, 0, 0, 1, 0, 1, 1, 0]
    first = bootstrap_interval(accuracy, truth, pred, n_boot=200, seed=3)
    assert first == bootstrap_interval(accuracy, truth, pred, n_boot=200, seed=3)  # same seed, same interval
    assert first[0] <= accuracy(truth, pred) <= first[1] and 0.0 <= first[0] < first[1] <= 1.0
    assert bootstrap_interval(accuracy, [1, 1, 0], [1, 1, 0], n_boot=50) == (1.0, 1.0)
    # Groups resample whole groups: with two groups, each agreeing within itself or not at all, every resample's
    # accuracy is 0, 1/2 or 1.
    groups = ["a", "a", "b", "b"]
    low, high = bootstrap_interval(accuracy, [1, 1, 1, 1], [1, 1, 0, 0], groups=groups, n_boot=200)
    assert low == 0.0 and high == 1.0
    # Kappa is NaN on a resample of one class only: such resamples are left out; all NaN gives NaN.
    assert all(math.isnan(x) for x in bootstrap_interval(cohen_kappa, [1, 1], [1, 1], n_boot=20))
    with pytest.raises(ValueError, match="3 group labels for 4 items"):
        bootstrap_interval(accuracy, truth[:4], pred[:4], groups=["a", "b", "c"])
