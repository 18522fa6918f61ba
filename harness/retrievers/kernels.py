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


@lru_cache(maxsize=None)
def compiled(name: str) -> Callable[..., Any] | None:
    """The numba-compiled loop of that name (accumulate, top_k, order, search; retrievers/bm25_compiled.py), or None
    where numba is absent or switched off."""
    if os.environ.get("RAGSWEEP_NO_NUMBA", "").lower() in {"1", "true", "yes"}:
        return None
    try:
        from ragsweep import runtime

        os.environ.setdefault("NUMBA_CACHE_DIR", str(runtime.current().cache_dir / "numba"))  # numba reads it on import
        from ragsweep.retrievers import bm25_compiled
    except ImportError:
        return None
    return getattr(bm25_compiled, name)


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
