from __future__ import annotations

from typing import Sequence

import numpy as np

from ragsweep.errors import ConfigError
from ragsweep.registry import SELECTORS
from ragsweep.selectors.base import Selector, normalised
from ragsweep.types import Chunk


@SELECTORS.register("dynamic")
class DynamicSelector(Selector):
    """A number of chunks per question, cut where the score curve drops (after SAGE's gradient-based selection): of
    the top ``max_k`` chunks, scores min-max normalised, keep chunks in rank order until the drop from one chunk to
    the next is at least ``drop`` (a share of the whole range), never fewer than ``min_k``. A question whose top
    chunk stands out gets one or two chunks; one whose scores decline evenly gets ``max_k``."""

    label_params = ("drop",)

    def __init__(self, drop: float = 0.3, min_k: int = 1, max_k: int = 10):
        if not 0 < drop <= 1:
            raise ConfigError(f"selector dynamic: drop must be in (0, 1], not {drop}")
        if not 1 <= min_k <= max_k:
            raise ConfigError(f"selector dynamic: need 1 <= min_k <= max_k, not min_k={min_k}, max_k={max_k}")
        self.drop, self.min_k, self.max_k = drop, min_k, max_k

    def select(self, question: str, ranked: Sequence[Chunk], scores: Sequence[float]) -> list[int]:
        n = min(self.max_k, len(ranked))
        s = normalised(scores[:n])
        steps = -np.diff(s)  # the fall from each chunk to the next, as a share of the range
        cut = next((i + 1 for i, fall in enumerate(steps) if i + 1 >= self.min_k and fall >= self.drop), n)
        return list(range(cut))
