"""Semantic chunking by embedding breakpoints (Kamradt): embed each sentence with ``buffer_size``
neighbours on each side, and split after sentence i where the cosine distance between windows i and
i+1 is above the ``percentile``-th percentile of all such distances in the document."""

from __future__ import annotations

import numpy as np

from ragsweep.chunkers.base import Chunker
from ragsweep.chunkers.merge import group_spans
from ragsweep.models.embedders import embed
from ragsweep.registry import CHUNKERS
from ragsweep.text import check_splitter, sentence_spans
from ragsweep.types import Document


def breakpoints(distances: np.ndarray, percentile: float) -> list[int]:
    if distances.size == 0:
        return []
    threshold = np.percentile(distances, percentile)
    return [int(i) for i in np.flatnonzero(distances > threshold)]


@CHUNKERS.register("semantic")
class SemanticChunker(Chunker):
    label_params = ("percentile", "buffer_size", "splitter")

    def __init__(
        self, model: str = "bundled:all-MiniLM-L6-v2", percentile: float = 95.0, buffer_size: int = 1, language: str = "en", splitter: str = "default"
    ):
        self.model, self.percentile, self.buffer_size, self.language = model, percentile, buffer_size, language
        self.splitter = check_splitter(splitter, language)

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        sentences = sentence_spans(doc.text, self.language, self.splitter)  # type: ignore[arg-type]
        if len(sentences) < 2:
            return sentences
        b, n = self.buffer_size, len(sentences)
        windows = [doc.text[sentences[max(0, i - b)][0] : sentences[min(n - 1, i + b)][1]] for i in range(n)]
        vectors = embed(self.model, windows)
        distances = 1.0 - np.sum(vectors[:-1] * vectors[1:], axis=1)
        return group_spans(sentences, breakpoints(distances, self.percentile))
