"""Rank metrics over a ranked list of retrieved items against a gold set (binary relevance).

``ranked`` holds the gold-unit id of each retrieved item in rank order (for chunk retrieval with doc
gold: the doc id of each chunk, so several chunks may share an id). An id counts as found at the first
rank where it appears; later chunks of an already-found doc add nothing, so nDCG cannot exceed 1.
"""

from __future__ import annotations

import math
from typing import Sequence


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


def ndcg_at_k(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    gold_set = set(gold)
    if not gold_set:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in _first_ranks(ranked, gold_set, k))
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal
