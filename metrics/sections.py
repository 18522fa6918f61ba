"""NitiBench's multi-label retrieval metrics over law sections (docs/metrics.md#nitibench).

``ranked`` holds, for each retrieved item in rank order, the section ids it maps to: one id for a
section chunk, several (or none) for a naive chunk that overlaps several sections. ``gold`` is the set T
of expected sections. The reference raises ValueError on an empty list; here an empty ranking scores 0
and a query without gold sections is not scored at all (the caller skips it).
"""

from __future__ import annotations

from typing import Sequence

# How a chunk maps to the sections it stands for (ragsweep.scoring.sections.chunk_sections): any shared character, or
# the section wholly inside the chunk (the released chunk_to_gold_mapping rule).
SECTION_MAPPINGS = ("overlap", "contained")


def _covered(ranked: Sequence[Sequence[str]], gold: set[str], k: int) -> set[str]:
    return {s for item in ranked[:k] for s in item} & gold


def hit_rate(ranked: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    return 1.0 if _covered(ranked, set(gold), k) else 0.0


def multi_hit_rate(ranked: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    """1 only when every expected section is among the top k."""
    return 1.0 if gold and _covered(ranked, set(gold), k) == set(gold) else 0.0


def section_recall(ranked: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    return len(_covered(ranked, set(gold), k)) / len(set(gold)) if gold else 0.0


def mrr(ranked: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    """1 / rank of the first item mapping to any expected section."""
    gold_set = set(gold)
    for rank, item in enumerate(ranked[:k], start=1):
        if gold_set & set(item):
            return 1.0 / rank
    return 0.0


def multi_mrr(ranked: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    """Recall x mean over hits of 1 / (rank_j - j + 1), where the j-th hit is the j-th item that brings a
    new expected section; several sections from one item are one hit. Hits at ranks 1..n score 1 each."""
    gold_set, found, hit_ranks = set(gold), set(), []
    for rank, item in enumerate(ranked[:k], start=1):
        new = (set(item) & gold_set) - found
        if new:
            found |= new
            hit_ranks.append(rank)
    if not hit_ranks:
        return 0.0
    discounted = sum(1.0 / (rank - j + 1) for j, rank in enumerate(hit_ranks, start=1))
    return (len(found) / len(gold_set)) * discounted / len(hit_ranks)


def micro_recall(recalls: Sequence[float], gold_sizes: Sequence[int]) -> float:
    """sum_q recall_q |T_q| / sum_q |T_q| (NitiBench's retrieval_micro_recall)."""
    total = sum(gold_sizes)
    return sum(r * n for r, n in zip(recalls, gold_sizes)) / total if total else 0.0
