"""Hybrid retrieval by reciprocal rank fusion (Cormack et al. 2009): score = sum 1 / (k_rrf + rank)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from ragsweep.registry import RETRIEVERS
from ragsweep.retrievers.base import Retriever, top_k
from ragsweep.types import Chunk


@RETRIEVERS.register("hybrid")
class HybridRetriever(Retriever):
    label_params = ("retrievers",)

    def __init__(self, retrievers: list[dict[str, Any]] | None = None, k_rrf: int = 60, candidates: int = 100):
        configs = retrievers or [{"name": "bm25"}, {"name": "dense"}]
        self.parts: list[Retriever] = [RETRIEVERS.build(dict(c)) for c in configs]
        self.k_rrf, self.candidates = k_rrf, candidates

    @property
    def version(self) -> str:  # type: ignore[override]
        return "1+" + "+".join(p.version for p in self.parts)

    def index(self, chunks: Sequence[Chunk]) -> Any:
        return {"n": len(chunks), "parts": [p.index(chunks) for p in self.parts]}

    def search_identity(self) -> dict[str, Any]:
        parts = {str(i): p.search_identity() for i, p in enumerate(self.parts)}
        return {i: ident for i, ident in parts.items() if ident}

    def usable(self, artifact: Any) -> bool:
        return all(p.usable(a) for p, a in zip(self.parts, artifact["parts"]))

    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        fused: list[dict[int, float]] = [defaultdict(float) for _ in questions]
        for part, part_artifact in zip(self.parts, artifact["parts"]):
            for qi, ranked in enumerate(part.search(part_artifact, questions, self.candidates)):
                for rank, (pos, _) in enumerate(ranked, start=1):
                    fused[qi][pos] += 1.0 / (self.k_rrf + rank)
        self.report = {f"{i}:{type(p).__name__}": p.report for i, p in enumerate(self.parts) if p.report}
        out = []
        for scores in fused:
            dense = np.zeros(artifact["n"])
            for pos, s in scores.items():
                dense[pos] = s
            out.append([(i, s) for i, s in top_k(dense, k) if s > 0])
        return out
