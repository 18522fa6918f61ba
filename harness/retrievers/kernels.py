"""The loops a query runs over every document, compiled with numba where it is installed (a dependency;
``RAGSWEEP_NO_NUMBA=1`` or its absence selects numpy): BM25's accumulation of each query term's weights, and
top-k selection. Compiled and numpy versions give identical results (tests/test_scale.py): the accumulation adds
in query-term order either way, and top-k keeps the same order (score descending, ties to the earlier position,
NaN last). Compiled functions are cached under the run's cache folder (``<cache_dir>/numba``), so a process pays
the compilation once per machine, not per run; below NUMBA_MIN_DOCS documents numpy is used and numba is not
even imported.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from ragsweep.retrievers.base import top_k_indices


def accumulate_numpy(scores: np.ndarray, cols: np.ndarray, qtfs: np.ndarray, dense_rows: np.ndarray, idf: np.ndarray,
                     ratios: np.ndarray, indptr: np.ndarray, indices: np.ndarray, codes: np.ndarray, dense: np.ndarray) -> None:
    for col, qtf, row in zip(cols.tolist(), qtfs.tolist(), dense_rows.tolist()):
        if row >= 0:
            scores += dense[row] * qtf if qtf != 1 else dense[row]
        else:
            start, end = indptr[col], indptr[col + 1]
            weights = idf[col] * ratios[codes[start:end]]
            scores[indices[start:end]] += weights * qtf if qtf != 1 else weights


def _accumulate_loops(scores, cols, qtfs, dense_rows, idf, ratios, indptr, indices, codes, dense):  # type: ignore[no-untyped-def]
    for j in range(cols.size):
        col, qtf, row = cols[j], qtfs[j], dense_rows[j]
        w = idf[col]
        if row >= 0:
            weights = dense[row]
            if qtf == 1.0:
                for i in range(scores.size):
                    scores[i] += weights[i]
            else:
                for i in range(scores.size):
                    scores[i] += weights[i] * qtf
        elif qtf == 1.0:
            for p in range(indptr[col], indptr[col + 1]):
                scores[indices[p]] += w * ratios[codes[p]]
        else:
            for p in range(indptr[col], indptr[col + 1]):
                scores[indices[p]] += w * ratios[codes[p]] * qtf


def _heap_top_k(scores, k):  # type: ignore[no-untyped-def]
    """One pass with a k-entry min-heap of the best so far; an entry is worse than another when its score is lower,
    or equal at a later position, so an equal score arriving later never displaces one held (ties to the earlier
    position). NaN counts as -inf. Returns the heap (unordered)."""
    held_score = np.empty(k)
    held_at = np.empty(k, np.int64)
    size = 0
    for i in range(scores.size):
        v = scores[i]
        if v != v:
            v = -np.inf
        if size < k:  # filling: sift up
            j = size
            size += 1
            while j > 0:
                parent = (j - 1) >> 1
                if held_score[parent] < v or (held_score[parent] == v and held_at[parent] > i):
                    break
                held_score[j], held_at[j] = held_score[parent], held_at[parent]
                j = parent
            held_score[j], held_at[j] = v, i
        elif v > held_score[0]:  # better than the worst held: replace it and sift down
            j = 0
            while True:
                child = 2 * j + 1
                if child >= k:
                    break
                right = child + 1
                if right < k and (held_score[right] < held_score[child] or (held_score[right] == held_score[child] and held_at[right] > held_at[child])):
                    child = right
                if v < held_score[child] or (v == held_score[child] and i > held_at[child]):
                    break
                held_score[j], held_at[j] = held_score[child], held_at[child]
                j = child
            held_score[j], held_at[j] = v, i
    return held_score[:size], held_at[:size]


@lru_cache(maxsize=None)
def compiled(name: str) -> Callable[..., Any] | None:
    """The numba-compiled loop of that name, or None where numba is absent or switched off."""
    if os.environ.get("RAGSWEEP_NO_NUMBA", "").lower() in {"1", "true", "yes"}:
        return None
    try:
        from ragsweep.engine import runtime

        os.environ.setdefault("NUMBA_CACHE_DIR", str(runtime.cache_dir() / "numba"))
        import numba
    except ImportError:
        return None
    # no fastmath: the additions stay in order, bit for bit those of the numpy loop and of rank-bm25
    return numba.njit(cache=True, nogil=True)({"accumulate": _accumulate_loops, "top_k": _heap_top_k}[name])


def accumulator() -> tuple[str, Callable[..., None]]:
    """("numba" or "numpy", the function that adds a query's weights into a score array)."""
    loop = compiled("accumulate")
    return ("numba", loop) if loop is not None else ("numpy", accumulate_numpy)


# Below this many documents numpy's loops are as fast, and a run does not pay numba's import, cache load and memory.
NUMBA_MIN_DOCS = 50_000


def accumulate(scores: np.ndarray, cols: np.ndarray, qtfs: np.ndarray, dense_rows: np.ndarray, index: Any) -> None:
    dense = index.dense if index.dense.size else np.zeros((1, scores.size))
    loop = accumulator()[1] if scores.size >= NUMBA_MIN_DOCS else accumulate_numpy
    loop(scores, cols, qtfs, dense_rows, index.idf, index.ratios, index.indptr, index.indices, index.codes, dense)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first, ties to the earlier position, NaN last: ``top_k_indices``'s
    order, in one compiled pass where there are enough documents for it to pay (4x faster on 100k BM25 scores of
    short queries, whose many tied scores make partitioning slow)."""
    heap = compiled("top_k") if scores.size >= NUMBA_MIN_DOCS and scores.dtype == np.float64 and k > 0 else None
    if heap is None:
        return top_k_indices(scores, k)
    held_score, held_at = heap(scores, min(k, scores.size))
    return held_at[np.lexsort((held_at, -held_score))]


def warm_up() -> None:
    """Compile (or load from numba's disk cache) the loops for the argument types a query uses, so that the first
    real call is not slower than the rest (benchmarks call this before any timing)."""
    _, add = accumulator()
    i32, i64, u16 = np.zeros(2, np.int32), np.zeros(2, np.int64), np.zeros(2, np.uint16)
    add(np.zeros(2), i64, np.ones(2), np.full(2, -1, np.int64), np.zeros(2), np.zeros(2), i32, i32, u16, np.zeros((1, 2)))
    heap = compiled("top_k")
    if heap is not None:
        heap(np.zeros(2), 1)
