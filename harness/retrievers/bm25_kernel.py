"""The BM25 query loop, compiled with numba where it is installed (a dependency; ``RAGSWEEP_NO_NUMBA=1``
or its absence selects the numpy loop). Both add each query term's weights into the score array in
query-term order, so they return bit-identical scores (tests/test_scale.py); numba only removes numpy's
per-call overhead and temporary arrays from the scatter. The compiled function is cached under the run's
cache folder (``<cache_dir>/numba``), so a process pays the compilation once per machine, not per run.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable

import numpy as np


def accumulate_numpy(scores: np.ndarray, cols: np.ndarray, qtfs: np.ndarray, dense_rows: np.ndarray,
                     indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, dense: np.ndarray) -> None:
    for col, qtf, row in zip(cols.tolist(), qtfs.tolist(), dense_rows.tolist()):
        if row >= 0:
            scores += dense[row] * qtf if qtf != 1 else dense[row]
        else:
            start, end = indptr[col], indptr[col + 1]
            scores[indices[start:end]] += data[start:end] * qtf if qtf != 1 else data[start:end]


def _accumulate_loops(scores, cols, qtfs, dense_rows, indptr, indices, data, dense):  # type: ignore[no-untyped-def]
    for j in range(cols.size):
        col, qtf, row = cols[j], qtfs[j], dense_rows[j]
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
                scores[indices[p]] += data[p]
        else:
            for p in range(indptr[col], indptr[col + 1]):
                scores[indices[p]] += data[p] * qtf


@lru_cache(maxsize=1)
def accumulator() -> tuple[str, Callable[..., None]]:
    """("numba" or "numpy", the function that adds a query's weights into a score array)."""
    if os.environ.get("RAGSWEEP_NO_NUMBA", "").lower() in {"1", "true", "yes"}:
        return "numpy", accumulate_numpy
    try:
        from ragsweep.engine import runtime

        os.environ.setdefault("NUMBA_CACHE_DIR", str(runtime.cache_dir() / "numba"))
        import numba
    except ImportError:
        return "numpy", accumulate_numpy
    # no fastmath: the additions stay in order, bit for bit those of the numpy loop and of rank-bm25
    return "numba", numba.njit(cache=True, nogil=True)(_accumulate_loops)


# Below this many documents numpy's loop is as fast, and a run does not pay numba's import, cache load and memory.
NUMBA_MIN_DOCS = 50_000


def accumulate(scores: np.ndarray, cols: np.ndarray, qtfs: np.ndarray, dense_rows: np.ndarray, index: Any) -> None:
    w = index.weights
    dense = index.dense if index.dense is not None and index.dense.size else np.zeros((1, scores.size))
    loop = accumulator()[1] if scores.size >= NUMBA_MIN_DOCS else accumulate_numpy
    loop(scores, cols, qtfs, dense_rows, w.indptr, w.indices, w.data, dense)


def warm_up() -> None:
    """Compile (or load from numba's disk cache) the query loop for the argument types a query uses, so
    that the first real call is not slower than the rest (benchmarks call this before any timing)."""
    _, add = accumulator()
    i32, i64 = np.zeros(2, np.int32), np.zeros(2, np.int64)
    add(np.zeros(2), i64, np.ones(2), np.full(2, -1, np.int64), i32, i32, np.zeros(2), np.zeros((1, 2)))
