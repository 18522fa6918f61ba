"""Dense retrieval: cosine similarity of unit-normalised embeddings (ragsweep.embedders), exact search."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ragsweep.embedders import embed
from ragsweep.registry import RETRIEVERS
from ragsweep.retrievers.base import Retriever, top_k
from ragsweep.types import Chunk


@RETRIEVERS.register("dense")
class DenseRetriever(Retriever):
    label_params = ("model",)

    def __init__(
        self,
        model: str = "bundled:all-MiniLM-L6-v2",
        query_prefix: str = "",
        document_prefix: str = "",
        batch_size: int = 64,
        device: str | None = None,
    ):
        self.model, self.query_prefix, self.document_prefix = model, query_prefix, document_prefix
        self.batch_size, self.device = batch_size, device

    def index(self, chunks: Sequence[Chunk]) -> Any:
        return embed(self.model, [self.document_prefix + c.text for c in chunks], self.batch_size, self.device, role="passage")

    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        if len(artifact) == 0:
            return [[] for _ in questions]
        queries = embed(self.model, [self.query_prefix + q for q in questions], self.batch_size, self.device, role="query")
        scores = queries @ np.asarray(artifact).T
        return [top_k(row, k) for row in scores]
