"""Main effects of a sweep's factors (its component choices) on one metric, paired on the same queries.

A sweep over chunkers x retrievers answers "which configuration is best"; a main effect answers "what does
changing one component do, whatever the others are". For a factor and two of its levels ``a`` and ``b``, the runs
that differ in that factor only are paired; each query's difference is the mean of ``b - a`` over the pairs that
scored it both ways, and the effect is the mean of those differences over queries, with a percentile bootstrap
interval over queries (queries are the sample; the configurations are fixed). Arrays in, numbers out, no I/O.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class MainEffect:
    factor: str
    from_level: str
    to_level: str
    pairs: int  # pairs of runs that differ in this factor only
    queries: int  # queries scored by both runs of at least one pair
    estimate: float  # mean over queries of the mean paired difference (to_level - from_level)
    low: float
    high: float

    def reversed(self) -> MainEffect:
        """The same effect read the other way (from ``to_level`` back to ``from_level``)."""
        return MainEffect(self.factor, self.to_level, self.from_level, self.pairs, self.queries, -self.estimate, -self.high, -self.low)


def main_effects(levels: Sequence[Mapping[str, str]], values: np.ndarray, n_resamples: int = 2000, seed: int = 0,
                 confidence: float = 0.95) -> list[MainEffect]:
    """Every factor's effect between each two of its levels, in the order the levels first appear.

    ``levels[i]``: run ``i``'s level of each factor (the same factors for every run; no two runs alike);
    ``values[i, q]``: run ``i``'s score on query ``q``, NaN where it has none. A factor with one level, or two levels
    no pair of runs joins, gives nothing."""
    scores = np.asarray(values, dtype=float)
    if scores.ndim != 2 or scores.shape[0] != len(levels):
        raise ValueError(f"values must be one row of per-query scores a run: {scores.shape} for {len(levels)} runs")
    factors = list(levels[0]) if levels else []
    if any(list(row) != factors for row in levels):
        raise ValueError("every run must name a level of the same factors")
    configurations = [tuple(row[f] for f in factors) for row in levels]
    if len(set(configurations)) != len(configurations):
        raise ValueError("two runs have the same levels of every factor: their effect cannot be told apart")
    out = []
    for position, factor in enumerate(factors):
        rest = {}  # the other factors' levels -> {this factor's level: run}
        for run, config in enumerate(configurations):
            rest.setdefault(config[:position] + config[position + 1:], {})[config[position]] = run
        order = list(dict.fromkeys(config[position] for config in configurations))
        for a, b in itertools.combinations(order, 2):
            pairs = [(runs[a], runs[b]) for runs in rest.values() if a in runs and b in runs]
            if not pairs:
                continue
            differences = np.stack([scores[j] - scores[i] for i, j in pairs])  # pairs x queries
            scored = ~np.all(np.isnan(differences), axis=0)
            if not scored.any():
                continue
            per_query = np.nanmean(differences[:, scored], axis=0)
            draws = np.random.default_rng(seed).integers(0, per_query.size, size=(n_resamples, per_query.size))  # each effect its own draws
            means = per_query[draws].mean(axis=1)
            tail = (1 - confidence) / 2 * 100
            out.append(MainEffect(factor, a, b, len(pairs), int(per_query.size), float(per_query.mean()),
                                  float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))))
    return out
