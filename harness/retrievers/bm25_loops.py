"""BM25's per-document loops as plain Python over numpy arrays, in the subset of Python numba compiles: the
accumulation of each query term's weights, and top-k selection in one heap pass with its ordering. Compiled by
retrievers/bm25_compiled.py; run as they are, they are the reference the tests hold the compiled forms to.
"""

from __future__ import annotations

import numpy as np


def accumulate_loops(scores, cols, qtfs, dense_rows, idf, ratios, indptr, indices, codes, dense):  # type: ignore[no-untyped-def]
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


def heap_top_k(scores, k):  # type: ignore[no-untyped-def]
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


def best_first(held_score, held_at):  # type: ignore[no-untyped-def]
    """The heap's entries in place, best first: score descending, ties to the earlier position (an insertion sort:
    k is small)."""
    for i in range(1, held_score.size):
        v, at = held_score[i], held_at[i]
        j = i - 1
        while j >= 0 and (held_score[j] < v or (held_score[j] == v and held_at[j] > at)):
            held_score[j + 1], held_at[j + 1] = held_score[j], held_at[j]
            j -= 1
        held_score[j + 1], held_at[j + 1] = v, at
