from __future__ import annotations

from typing import Sequence

from ragsweep.registry import RERANKERS
from ragsweep.rerankers.base import Reranker
from ragsweep.types import Chunk


@RERANKERS.register("none")
class NoReranker(Reranker):
    """Keeps the retriever's order; the pipeline skips the rerank stage for it."""

    def rerank(self, question: str, candidates: Sequence[Chunk]) -> list[tuple[int, float]]:
        return [(i, 0.0) for i in range(len(candidates))]
