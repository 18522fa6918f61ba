"""Aggregates over queries: macro mean, population std (np.std, as Chroma reports) and a seeded
percentile-bootstrap 95% interval of the mean."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def summarize(values: Sequence[float], n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"mean": float(arr.mean()), "std": float(arr.std()), "ci_low": float(low), "ci_high": float(high), "n": int(arr.size)}
