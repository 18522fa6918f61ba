"""Paired tests: exact sign-flip p-values computed by hand, and the bootstrap's behaviour at the ends."""

from __future__ import annotations

import pytest

from ragsweep.metrics.significance import paired_bootstrap_p, paired_permutation_p


def test_exact_sign_flip_hand_computed():
    # Diffs (1, 1, 1): of the 8 sign patterns only +++ and --- reach |mean| 1: p = 2/8.
    assert paired_permutation_p([1, 1, 1], [0, 0, 0]) == pytest.approx(0.25)
    # Diffs (2, -1): patterns give |mean| 0.5, 1.5, 1.5, 0.5; observed 0.5 -> all 4 reach it: p = 1.
    assert paired_permutation_p([2, 0], [0, 1]) == 1.0
    # Ten equal positive diffs: 2 / 2^10.
    assert paired_permutation_p([1] * 10, [0] * 10) == pytest.approx(2 / 1024)
    assert paired_permutation_p([0.3, 0.5], [0.3, 0.5]) == 1.0


def test_sampled_sign_flip_is_never_zero_and_seeded():
    a, b = [1.0] * 40, [0.0] * 40
    p = paired_permutation_p(a, b, n_resamples=999)
    assert p == pytest.approx(1 / 1000)  # no random flip reaches all-positive: (0 + 1) / (999 + 1)
    noisy = [((i * 7) % 5) / 5 for i in range(40)]
    assert paired_permutation_p(noisy, noisy[::-1], seed=3) == paired_permutation_p(noisy, noisy[::-1], seed=3)


def test_bootstrap_ends():
    assert paired_bootstrap_p([1, 2, 3], [1, 2, 3]) == 1.0
    assert paired_bootstrap_p([1.0] * 20, [0.0] * 20) == 0.0
    assert paired_bootstrap_p([0.0] * 20, [1.0] * 20) == 0.0
    with pytest.raises(ValueError):
        paired_bootstrap_p([1, 2], [1])
