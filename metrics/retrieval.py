"""Rank metrics over a ranked list of retrieved items against a gold set (binary relevance; nDCG also graded).

``ranked`` holds the gold-unit id of each retrieved item in rank order (for chunk retrieval with doc
gold: the doc id of each chunk, so several chunks may share an id). An id counts as found at the first
rank where it appears; later chunks of an already-found doc add nothing, so nDCG cannot exceed 1.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence


def _first_ranks(ranked: Sequence[str], gold: set[str], k: int) -> list[int]:
    """1-based ranks, within the top k, at which a not-yet-found gold id first appears."""
    seen: set[str] = set()
    ranks = []
    for rank, item in enumerate(ranked[:k], start=1):
        if item in gold and item not in seen:
            seen.add(item)
            ranks.append(rank)
    return ranks


def recall_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    gold_set = set(gold)
    return len(_first_ranks(ranked, gold_set, k)) / len(gold_set) if gold_set else 0.0


def hit_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    return 1.0 if _first_ranks(ranked, set(gold), k) else 0.0


def mrr_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    ranks = _first_ranks(ranked, set(gold), k)
    return 1.0 / ranks[0] if ranks else 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Sequence[str], k: int, grades: Mapping[str, float] | None = None) -> float:
    """Binary gains, or graded ones from ``grades`` (gold id -> relevance, trec_eval's linear gain, as
    pytrec_eval computes BEIR's nDCG): DCG = sum of gain / log2(rank + 1) over the top k, over the ideal
    ordering's DCG."""
    gold_set = set(gold)
    if not gold_set:
        return 0.0
    gain = (lambda g: float(grades.get(g, 1))) if grades else (lambda g: 1.0)  # noqa: E731
    seen: set[str] = set()
    dcg = 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in gold_set and item not in seen:
            seen.add(item)
            dcg += gain(item) / math.log2(rank + 1)
    ideal = sum(g / math.log2(r + 1) for r, g in enumerate(sorted((gain(d) for d in gold_set), reverse=True)[:k], start=1))
    return dcg / ideal
