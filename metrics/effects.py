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


@dataclass(frozen=True)
class Interaction:
    """How much changing one factor's level changes another's effect: (b - a at d) - (b - a at c)."""

    factors: tuple[str, str]
    first: tuple[str, str]  # (a, b): the first factor's two levels
    second: tuple[str, str]  # (c, d): the second factor's two levels
    sets: int  # sets of four runs that differ in these two factors only
    queries: int
    estimate: float
    low: float
    high: float


def _grid(levels: Sequence[Mapping[str, str]], values: np.ndarray) -> tuple[np.ndarray, list[str], list[tuple[str, ...]]]:
    """(scores, factors, each run's levels as a tuple), checked."""
    scores = np.asarray(values, dtype=float)
    if scores.ndim != 2 or scores.shape[0] != len(levels):
        raise ValueError(f"values must be one row of per-query scores a run: {scores.shape} for {len(levels)} runs")
    factors = list(levels[0]) if levels else []
    if any(list(row) != factors for row in levels):
        raise ValueError("every run must name a level of the same factors")
    configurations = [tuple(row[f] for f in factors) for row in levels]
    if len(set(configurations)) != len(configurations):
        raise ValueError("two runs have the same levels of every factor: their effect cannot be told apart")
    return scores, factors, configurations


def _by_rest(configurations: list[tuple[str, ...]], positions: tuple[int, ...]) -> dict[tuple[str, ...], dict[tuple[str, ...], int]]:
    """The other factors' levels -> {these factors' levels: run}."""
    out: dict[tuple[str, ...], dict[tuple[str, ...], int]] = {}
    for run, config in enumerate(configurations):
        rest = tuple(v for i, v in enumerate(config) if i not in positions)
        out.setdefault(rest, {})[tuple(config[i] for i in positions)] = run
    return out


def _mean_with_interval(contrasts: np.ndarray, n_resamples: int, seed: int, confidence: float) -> tuple[int, float, float, float] | None:
    """``contrasts``: sets x queries. Per query the mean over the sets that scored it; then (queries, their mean, the
    percentile bootstrap interval over queries), or None where no query was scored."""
    scored = ~np.all(np.isnan(contrasts), axis=0)
    if not scored.any():
        return None
    per_query = np.nanmean(contrasts[:, scored], axis=0)
    draws = np.random.default_rng(seed).integers(0, per_query.size, size=(n_resamples, per_query.size))  # each estimate its own draws
    means = per_query[draws].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return int(per_query.size), float(per_query.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def _order(configurations: list[tuple[str, ...]], position: int) -> list[str]:
    return list(dict.fromkeys(config[position] for config in configurations))


def main_effects(levels: Sequence[Mapping[str, str]], values: np.ndarray, n_resamples: int = 2000, seed: int = 0,
                 confidence: float = 0.95) -> list[MainEffect]:
    """Every factor's effect between each two of its levels, in the order the levels first appear.

    ``levels[i]``: run ``i``'s level of each factor (the same factors for every run; no two runs alike);
    ``values[i, q]``: run ``i``'s score on query ``q``, NaN where it has none. A factor with one level, or two levels
    no pair of runs joins, gives nothing."""
    scores, factors, configurations = _grid(levels, values)
    out = []
    for position, factor in enumerate(factors):
        rest = _by_rest(configurations, (position,))
        for a, b in itertools.combinations(_order(configurations, position), 2):
            pairs = [(runs[(a,)], runs[(b,)]) for runs in rest.values() if (a,) in runs and (b,) in runs]
            if pairs and (found := _mean_with_interval(np.stack([scores[j] - scores[i] for i, j in pairs]), n_resamples, seed, confidence)):
                out.append(MainEffect(factor, a, b, len(pairs), *found))
    return out


def interactions(levels: Sequence[Mapping[str, str]], values: np.ndarray, n_resamples: int = 2000, seed: int = 0,
                 confidence: float = 0.95) -> list[Interaction]:
    """Every two-factor interaction contrast: for levels a, b of one factor and c, d of another, the mean over
    queries of (b - a where the other is d) - (b - a where it is c), over each set of four runs that differ in these
    two factors only, with the same bootstrap interval as ``main_effects``. Zero where the factors add up."""
    scores, factors, configurations = _grid(levels, values)
    out = []
    for (p, f), (r, g) in itertools.combinations(enumerate(factors), 2):
        rest = _by_rest(configurations, (p, r))
        for a, b in itertools.combinations(_order(configurations, p), 2):
            for c, d in itertools.combinations(_order(configurations, r), 2):
                corners = [(a, c), (b, c), (a, d), (b, d)]
                sets = [[runs[k] for k in corners] for runs in rest.values() if all(k in runs for k in corners)]
                contrasts = [(scores[bd] - scores[ad]) - (scores[bc] - scores[ac]) for ac, bc, ad, bd in sets]
                if sets and (found := _mean_with_interval(np.stack(contrasts), n_resamples, seed, confidence)):
                    out.append(Interaction((f, g), (a, b), (c, d), len(sets), *found))
    return out
