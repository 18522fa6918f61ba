from __future__ import annotations

from typing import Sequence

from ragsweep.registry import SELECTORS
from ragsweep.selectors.base import Selector
from ragsweep.types import Chunk


@SELECTORS.register("none")
class NoSelector(Selector):
    """The generator takes its own top ``context_k`` chunks (the default); the pipeline skips the select stage."""

    def select(self, question: str, ranked: Sequence[Chunk], scores: Sequence[float]) -> list[int]:
        return list(range(len(ranked)))
