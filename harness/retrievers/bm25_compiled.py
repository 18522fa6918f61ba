"""BM25's loops compiled by numba, imported only where numba is installed and switched on (retrievers/kernels.py
sets numba's cache folder first): each loop of bm25_loops compiled once, and a batch search that runs them for every
query in one call. The search calls the compiled loops by their names here, which numba resolves when it compiles
it. No fastmath: the additions stay in order, bit for bit those of the numpy loop and of rank-bm25.
"""

from __future__ import annotations

import numba
import numpy as np

from ragsweep.retrievers.bm25_loops import accumulate_loops, best_first, heap_top_k

_jit = numba.njit(cache=True, nogil=True)
accumulate = _jit(accumulate_loops)
top_k = _jit(heap_top_k)
order = _jit(best_first)


@_jit
def search(n_docs, cols, qtfs, dense_rows, starts, idf, ratios, indptr, indices, codes, dense, out_at, out_score):  # type: ignore[no-untyped-def]
    """Every query of a batch in one call: query q's terms are ``cols[starts[q]:starts[q + 1]]``; its best
    ``out_at.shape[1]`` documents go to row q of ``out_at`` / ``out_score``, best first. One score array serves every
    query."""
    scores = np.zeros(n_docs)
    for q in range(starts.size - 1):
        a, b = starts[q], starts[q + 1]
        scores[:] = 0.0
        accumulate(scores, cols[a:b], qtfs[a:b], dense_rows[a:b], idf, ratios, indptr, indices, codes, dense)
        held_score, held_at = top_k(scores, out_at.shape[1])
        order(held_score, held_at)
        out_at[q, :] = held_at
        out_score[q, :] = held_score
