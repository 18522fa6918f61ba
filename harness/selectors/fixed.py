from __future__ import annotations

from typing import Sequence

from ragsweep.errors import ConfigError
from ragsweep.registry import SELECTORS
from ragsweep.selectors.base import Selector
from ragsweep.types import Chunk


@SELECTORS.register("fixed")
class FixedSelector(Selector):
    """The top ``k`` chunks of the final ranking, in rank order: what a generator's ``context_k`` does, as a
    selector, so that it is swept and compared beside the others."""

    label_params = ("k",)

    def __init__(self, k: int = 5):
        if k < 1:
            raise ConfigError(f"selector fixed: k must be at least 1, not {k}")
        self.k = k

    def select(self, question: str, ranked: Sequence[Chunk], scores: Sequence[float]) -> list[int]:
        return list(range(min(self.k, len(ranked))))
