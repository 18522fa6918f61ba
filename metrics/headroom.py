"""How much of the closed-book-to-oracle gap a configuration closes: (its mean - the closed-book mean) / (the oracle
mean - the closed-book mean), all three scored on the same questions with the same generator. 0: retrieval adds
nothing over the generator's own knowledge; 1: as good as the gold evidence; above 1 or below 0 where the
configuration's context beats the oracle's (an extractive answer from a whole sentence against a gold span) or hurts.

Arrays in, numbers out: one value per question for each of the three, aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class GapClosed:
    closed_book: float
    oracle: float
    run: float
    share: float  # of the gap closed
    low: float  # percentile bootstrap interval over questions
    high: float
    questions: int


def gap_closed(run: Sequence[float], closed_book: Sequence[float], oracle: Sequence[float], n_resamples: int = 2000, seed: int = 0,
               confidence: float = 0.95) -> GapClosed | None:
    """The share of the gap closed with its paired bootstrap interval (questions resampled together for all three);
    None where the oracle is not better than closed book on these questions (no gap to close). A resample whose gap
    is not positive is left out of the interval."""
    r, c, o = (np.asarray(v, dtype=float) for v in (run, closed_book, oracle))
    if not r.shape == c.shape == o.shape:
        raise ValueError(f"gap_closed needs values for the same questions: {r.size}, {c.size} and {o.size}")
    if r.size == 0 or o.mean() <= c.mean():
        return None
    share = (r.mean() - c.mean()) / (o.mean() - c.mean())
    draws = np.random.default_rng(seed).integers(0, r.size, size=(n_resamples, r.size))
    gaps = o[draws].mean(axis=1) - c[draws].mean(axis=1)
    ok = gaps > 0
    shares = (r[draws].mean(axis=1)[ok] - c[draws].mean(axis=1)[ok]) / gaps[ok]
    tail = (1 - confidence) / 2 * 100
    return GapClosed(float(c.mean()), float(o.mean()), float(r.mean()), float(share), float(np.percentile(shares, tail)),
                     float(np.percentile(shares, 100 - tail)), int(r.size))
