"""The loops a query runs over every document, compiled with numba where it is installed (a dependency;
``RAGSWEEP_NO_NUMBA=1`` or its absence selects numpy): BM25's accumulation of each query term's weights, top-k
selection in one heap pass, and a batch search that runs both for every query in one call. Compiled and numpy
versions give identical results (tests/test_scale.py): the accumulation adds in query-term order either way, and
top-k keeps the same order (score descending, ties to the earlier position, NaN last). Compiled functions are
cached under the run's cache folder (``<cache_dir>/numba``), so a process pays the compilation once per machine,
not per run; below NUMBA_MIN_DOCS documents numpy is used and numba is not even imported.
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


def _best_first(held_score, held_at):  # type: ignore[no-untyped-def]
    """The heap's entries in place, best first: score descending, ties to the earlier position (an insertion sort:
    k is small)."""
    for i in range(1, held_score.size):
        v, at = held_score[i], held_at[i]
        j = i - 1
        while j >= 0 and (held_score[j] < v or (held_score[j] == v and held_at[j] > at)):
            held_score[j + 1], held_at[j + 1] = held_score[j], held_at[j]
            j -= 1
        held_score[j + 1], held_at[j + 1] = v, at


# What _search_loops calls: these plain functions, rebound to their compiled forms by compiled("search") before it
# compiles _search_loops (numba resolves a global when it compiles the caller).
_accumulate = _accumulate_loops
_top_k = _heap_top_k
_order = _best_first


def _search_loops(n_docs, cols, qtfs, dense_rows, starts, idf, ratios, indptr, indices, codes, dense, out_at, out_score):  # type: ignore[no-untyped-def]
    """Every query of a batch in one call: query q's terms are ``cols[starts[q]:starts[q + 1]]``; its best
    ``out_at.shape[1]`` documents go to row q of ``out_at`` / ``out_score``, best first. One score array serves every
    query."""
    scores = np.zeros(n_docs)
    for q in range(starts.size - 1):
        a, b = starts[q], starts[q + 1]
        scores[:] = 0.0
        _accumulate(scores, cols[a:b], qtfs[a:b], dense_rows[a:b], idf, ratios, indptr, indices, codes, dense)
        held_score, held_at = _top_k(scores, out_at.shape[1])
        _order(held_score, held_at)
        out_at[q, :] = held_at
        out_score[q, :] = held_score


@lru_cache(maxsize=None)
def compiled(name: str) -> Callable[..., Any] | None:
    """The numba-compiled loop of that name (accumulate, top_k, order, search), or None where numba is absent or
    switched off."""
    if os.environ.get("RAGSWEEP_NO_NUMBA", "").lower() in {"1", "true", "yes"}:
        return None
    try:
        from ragsweep import runtime

        os.environ.setdefault("NUMBA_CACHE_DIR", str(runtime.cache_dir() / "numba"))
        import numba
    except ImportError:
        return None
    if name == "search":  # its callees, compiled first (see _accumulate)
        global _accumulate, _top_k, _order
        _accumulate, _top_k, _order = compiled("accumulate"), compiled("top_k"), compiled("order")
    loops = {"accumulate": _accumulate_loops, "top_k": _heap_top_k, "order": _best_first, "search": _search_loops}
    # no fastmath: the additions stay in order, bit for bit those of the numpy loop and of rank-bm25
    return numba.njit(cache=True, nogil=True)(loops[name])


def accumulator() -> tuple[str, Callable[..., None]]:
    """("numba" or "numpy", the function that adds a query's weights into a score array)."""
    loop = compiled("accumulate")
    return ("numba", loop) if loop is not None else ("numpy", accumulate_numpy)


# Below this many documents numpy's loops are as fast, and a run does not pay numba's import, cache load and memory.
NUMBA_MIN_DOCS = 5_000


def _dense(index: Any) -> np.ndarray:
    return index.dense if index.dense.size else np.zeros((1, index.n_docs))


def accumulate(scores: np.ndarray, cols: np.ndarray, qtfs: np.ndarray, dense_rows: np.ndarray, index: Any) -> None:
    loop = accumulator()[1] if scores.size >= NUMBA_MIN_DOCS else accumulate_numpy
    loop(scores, cols, qtfs, dense_rows, index.idf, index.ratios, index.indptr, index.indices, index.codes, _dense(index))


def search(index: Any, cols: np.ndarray, qtfs: np.ndarray, dense_rows: np.ndarray, starts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, scores), queries x min(k, documents), best first, ties to the earlier position: each query's terms
    ``cols[starts[q]:starts[q + 1]]`` (with their counts and dense rows) scored over the index. Compiled, the whole
    batch is one call (no per-query interpreter overhead: it decides short queries' speed); else numpy per query."""
    k = min(k, index.n_docs)
    out_at, out_score = np.zeros((starts.size - 1, k), np.int64), np.zeros((starts.size - 1, k))
    loop = compiled("search") if index.n_docs >= NUMBA_MIN_DOCS and k > 0 else None
    arrays = (index.idf, index.ratios, index.indptr, index.indices, index.codes, _dense(index))
    if loop is not None:
        loop(index.n_docs, cols, qtfs, dense_rows, starts, *arrays, out_at, out_score)
        return out_at, out_score
    scores = np.zeros(index.n_docs)
    for q in range(starts.size - 1):
        a, b = starts[q], starts[q + 1]
        scores.fill(0.0)
        accumulate_numpy(scores, cols[a:b], qtfs[a:b], dense_rows[a:b], *arrays)
        out_at[q] = top_k_indices(scores, k)
        out_score[q] = scores[out_at[q]]
    return out_at, out_score


def warm_up() -> None:
    """Compile (or load from numba's disk cache) the loops for the argument types a query uses, so that the first
    real call is not slower than the rest (benchmarks call this before any timing)."""
    _, add = accumulator()
    i32, i64, u16 = np.zeros(2, np.int32), np.zeros(2, np.int64), np.zeros(2, np.uint16)
    add(np.zeros(2), i64, np.ones(2), np.full(2, -1, np.int64), np.zeros(2), np.zeros(2), i32, i32, u16, np.zeros((1, 2)))
    loop = compiled("search")
    if loop is not None:
        loop(2, i64, np.ones(2), np.full(2, -1, np.int64), np.array([0, 2]), np.zeros(2), np.zeros(2), i32, i32, u16, np.zeros((1, 2)),
             np.zeros((1, 1), np.int64), np.zeros((1, 1)))
