"""Chroma's ClusterSemanticChunker idea: split the document into small pieces (recursive, ``piece_size``
tokens), embed them, and choose the segmentation into runs of consecutive pieces that maximises the
summed pairwise similarity within each run, with similarities centred on their mean over all piece pairs
(so joining unrelated pieces costs) and runs at most ``max_chunk_size`` tokens (max_chunk_size /
piece_size pieces). Solved exactly by dynamic programming; only similarities within the maximum run
length are needed, and the mean over all pairs comes from the sum of the vectors, so memory stays linear
in the number of pieces.
"""

from __future__ import annotations

import numpy as np

from ragsweep.chunkers.base import Chunker
from ragsweep.chunkers.recursive import RecursiveChunker
from ragsweep.models.embedders import embed
from ragsweep.registry import CHUNKERS
from ragsweep.types import Document


def mean_pair_similarity(vectors: np.ndarray) -> float:
    """Mean of v_i . v_j over all pairs i < j."""
    n = len(vectors)
    if n < 2:
        return 0.0
    total = vectors.sum(axis=0)
    pair_sum = (float(total @ total) - float(np.sum(vectors * vectors))) / 2
    return pair_sum / (n * (n - 1) / 2)


def optimal_runs(vectors: np.ndarray, max_run: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) piece index of each run in the best segmentation."""
    n = len(vectors)
    mean = mean_pair_similarity(vectors)
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    start_of = np.zeros(n + 1, dtype=int)
    for end in range(1, n + 1):  # best segmentation of pieces [0, end)
        reward = 0.0
        for size in range(1, min(max_run, end) + 1):
            first = end - size
            # adding piece `first` to the run (first+1 .. end-1) adds its similarity to each of them, twice
            reward += 2.0 * float(np.sum(vectors[first + 1 : end] @ vectors[first] - mean))
            if best[first] + reward > best[end]:
                best[end], start_of[end] = best[first] + reward, first
    runs, end = [], n
    while end > 0:
        runs.append((int(start_of[end]), end - 1))
        end = int(start_of[end])
    return runs[::-1]


@CHUNKERS.register("cluster")
class ClusterChunker(Chunker):
    label_params = ("max_chunk_size", "piece_size")

    def __init__(self, model: str = "bundled:all-MiniLM-L6-v2", max_chunk_size: int = 400, piece_size: int = 50, encoding: str = "cl100k_base"):
        self.model, self.max_chunk_size, self.piece_size = model, max_chunk_size, piece_size
        self.pieces = RecursiveChunker(size=piece_size, overlap=0, length="tokens", encoding=encoding)

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        pieces = self.pieces.spans(doc)
        if len(pieces) < 2:
            return pieces
        vectors = embed(self.model, [doc.text[s:e] for s, e in pieces])
        runs = optimal_runs(vectors, max(1, self.max_chunk_size // self.piece_size))
        return [(pieces[a][0], pieces[b][1]) for a, b in runs]
