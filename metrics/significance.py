"""Paired tests between two systems scored on the same queries (per-query values aligned by query).

- ``paired_permutation_p``: the sign-flip randomisation test of the mean difference, two-sided. Exact
  (all 2^n sign patterns) for n <= ``exact_max``, else ``n_resamples`` seeded random flips with the
  +1 correction (Phipson & Smyth), so p is never 0.
- ``paired_bootstrap_p``: the paired bootstrap of the mean difference (resample queries with
  replacement), two-sided: twice the share of resampled differences on the far side of 0, capped at 1.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np


def _diffs(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired tests need values for the same queries: {x.size} vs {y.size}")
    return x - y


def paired_permutation_p(a: Sequence[float], b: Sequence[float], n_resamples: int = 10_000, seed: int = 0, exact_max: int = 16) -> float:
    d = _diffs(a, b)
    n = d.size
    if n == 0:
        return 1.0
    observed = abs(d.mean())
    tol = 1e-12
    if n <= exact_max:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        means = np.abs(signs @ d) / n
        return float(np.mean(means >= observed - tol))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_resamples, n))
    extreme = int(np.sum(np.abs(signs @ d) / n >= observed - tol))
    return (extreme + 1) / (n_resamples + 1)


def paired_bootstrap_p(a: Sequence[float], b: Sequence[float], n_resamples: int = 10_000, seed: int = 0) -> float:
    d = _diffs(a, b)
    if d.size == 0 or np.all(d == 0):
        return 1.0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_resamples, d.size))].mean(axis=1)
    side = np.mean(means <= 0) if d.mean() > 0 else np.mean(means >= 0)
    return float(min(1.0, 2 * side))


def holm_rejections(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down: which hypotheses are rejected with the family-wise error at most ``alpha``. The p-values in
    increasing order are compared with alpha / m, alpha / (m - 1), ...; the first that fails stops the rejections."""
    p = np.asarray(p_values, dtype=float)
    rejected = [False] * p.size
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > alpha / (p.size - rank):
            break
        rejected[int(i)] = True
    return rejected
