from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from ragsweep.types import Chunk


class Retriever(ABC):
    """``index`` returns a picklable artifact (cached by the index stage); ``search`` ranks chunk
    positions for each question. Bump ``version`` when a change alters rankings."""

    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name
    report: dict[str, Any] = {}  # set by ``search`` where it has something to say (run.json ``retrieval``); never mutated

    @abstractmethod
    def index(self, chunks: Sequence[Chunk]) -> Any: ...

    @abstractmethod
    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """Top-k ``(chunk position, score)`` per question, best first."""

    def search_identity(self) -> dict[str, Any]:
        """What decides the rankings beyond the config and the code, resolved where the search runs (a GPU rounds
        differently from the CPU): part of the retrieve stage's key. Empty for most retrievers."""
        return {}

    def usable(self, artifact: Any) -> bool:
        """Whether a cached artifact can still be searched; one that refers to data kept elsewhere (a dense
        index's embedding rows) is rebuilt when that data is gone."""
        return True


def nan_last(scores: np.ndarray) -> np.ndarray:
    """The scores with NaN as -inf (so a NaN ranks last), copied only where there is a NaN."""
    if scores.dtype.kind == "f" and scores.size and np.isnan(scores.max()):  # max propagates NaN; no mask allocated
        return np.where(np.isnan(scores), -np.inf, scores)
    return scores


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first; ties go to the earlier position, so rankings are
    deterministic. The same order as a full stable sort of all N scores, in O(N + k log k): a partition
    finds the k-th score, then only the positions above it, and the earliest of those tied with it, are
    sorted. NaN scores rank last."""
    n = scores.size
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    keys = nan_last(scores)
    if n >= 64 * k:
        # A lower bound first: the k-th largest of every 16th score. Where at least k scores exceed it, the
        # top k are among them (a far smaller partition); otherwise the full one below.
        sample = keys[::16]
        bound = np.partition(sample, sample.size - k)[sample.size - k]
        above = np.flatnonzero(keys > bound)
        if above.size >= k:
            return above[top_k_indices(keys[above], k)]
    if k < n:
        threshold = np.partition(keys, n - k)[n - k]  # the k-th largest score
        above = np.flatnonzero(keys > threshold)
        tied = np.flatnonzero(keys == threshold)[: k - above.size]  # flatnonzero is ascending: earliest first
        candidates = np.concatenate([above, tied])
    else:
        candidates = np.arange(n)
    return candidates[np.lexsort((candidates, -keys[candidates]))][:k]


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """``top_k_indices`` for every row of a 2-D block at once (rows x min(k, columns)), the same order. Memory beyond
    the block: a boolean mask of a quarter of it and a 1-in-16 column sample, never a copy of it (dense exact search
    keeps its peak near one tile). Rows whose k-th score is tied with more columns than fit fall back to the row-wise
    function."""
    rows, n = scores.shape
    k = min(k, n)
    if rows == 0 or k <= 0:
        return np.empty((rows, max(k, 0)), dtype=np.int64)
    if rows >= 8 and rows * n >= 1 << 16:  # a quarter of the rows at a time: a quarter of the temporaries
        step = -(-rows // 4)
        return np.concatenate([top_k_rows(scores[s : s + step], k) for s in range(0, rows, step)])
    scores = nan_last(scores)
    if k == n:
        return np.stack([top_k_indices(r, k) for r in scores])
    out = np.empty((rows, k), dtype=np.int64)
    if n >= 64 * k:
        # A lower bound per row: the k-th largest of every 16th column. The top k lie among the scores above it
        # wherever at least k are; every other row is done below.
        sample = scores[:, ::16]
        bound = np.partition(sample, sample.shape[1] - k, axis=1)[:, sample.shape[1] - k : sample.shape[1] - k + 1]
        above = scores > bound
    else:
        above = scores >= np.partition(scores, n - k, axis=1)[:, n - k : n - k + 1]  # at least k per row
    counts = above.sum(axis=1)
    r, c = np.nonzero(above)
    del above
    vals = scores[r, c]
    order = np.lexsort((c, -vals, r))  # by row, then score descending, then position
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ok = counts >= k if n >= 64 * k else counts == k  # exact threshold: more than k means ties at the k-th place
    if ok.any():
        out[ok] = c[order][first[ok, None] + np.arange(k)]
    for i in np.flatnonzero(~ok):
        out[i] = top_k_indices(scores[i], k)
    return out


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """``(position, score)`` of the k highest scores, best first, ties to the earlier position."""
    return [(int(i), float(scores[i])) for i in top_k_indices(scores, k)]
