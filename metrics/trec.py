"""TREC-style scores over graded labels and nuggets: rankings and labels in, numbers out, no I/O.

Relevance (the TREC 0-3 scale UMBRELA assigns; trec_eval's conventions, so the numbers equal trec_eval's on the
exported run and qrels files):

- nDCG@k: linear gains (the label), discount log2(rank + 1), over the ideal ordering of every labelled item of
  the query. An item with no label counts as non-relevant (gain 0). A query with no item labelled above 0 has
  no nDCG (trec_eval leaves such a query out; so do we, and it is counted as unscored).
- P@k: the items of the top k labelled at least ``relevant_from`` (trec_eval ``-l``; 2 is the TREC DL / RAG
  convention on the 0-3 scale), over k (a ranking shorter than k is not rewarded).
- judged@k: the share of the top k that carries any label, over k: how much of a number rests on labels at all.

Nuggets (AutoNuggetizer, the TREC 2024 RAG track): each nugget is vital or okay and an answer supports it fully,
partly or not. Strict scores credit only full support; partial ones give half credit to partial support.
"all" averages over every nugget, "vital" over the vital ones, "weighted" weighs vital 1 and okay 0.5 (partial
credit). Vital strict is the track's headline.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

RELEVANT_FROM = 2
SUPPORT, PARTIAL, NOT_SUPPORT = "support", "partial_support", "not_support"
ASSIGNMENTS = (SUPPORT, PARTIAL, NOT_SUPPORT)
VITAL, OKAY = "vital", "okay"
IMPORTANCE = (VITAL, OKAY)


def graded_ndcg_at_k(ranked: Sequence[str], labels: Mapping[str, int], k: int) -> float | None:
    """trec_eval's ndcg_cut.k: DCG of the top k over the DCG of all labelled items in their ideal order."""
    ideal_gains = sorted((g for g in labels.values() if g > 0), reverse=True)[:k]
    if not ideal_gains:
        return None
    dcg = sum(max(labels.get(item, 0), 0) / math.log2(rank + 1) for rank, item in enumerate(ranked[:k], start=1))
    ideal = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal_gains, start=1))
    return dcg / ideal


def precision_at_k(ranked: Sequence[str], labels: Mapping[str, int], k: int, relevant_from: int = RELEVANT_FROM) -> float:
    """trec_eval's P.k with ``-l relevant_from``: relevant items of the top k over k."""
    return sum(1 for item in ranked[:k] if labels.get(item, 0) >= relevant_from) / k


def judged_at_k(ranked: Sequence[str], labels: Mapping[str, int], k: int) -> float:
    """The share of the top k that carries a label (human, gold-derived or LLM), over k."""
    return sum(1 for item in ranked[:k] if item in labels) / k


def _credit(assignment: str, partial: bool) -> float:
    return 1.0 if assignment == SUPPORT else (0.5 if partial and assignment == PARTIAL else 0.0)


def nugget_scores(importance: Sequence[str], assignments: Sequence[str | None], reference: bool = False) -> dict[str, float | None]:
    """The track's scores of one answer: all / vital, strict / partial, and weighted. Labels are compared
    case-insensitively (the reference lowercases them). Defined: vital scores are None when the query has no vital
    nugget, every score None when it has no nugget, and a nugget whose assignment failed (None) makes every score
    None (a failed reply is never scored). ``reference``: AutoNuggetizer's scorer instead, which scores such a query
    0.0 (no vital nugget, no nugget), and credits by exact label: a failed assignment (None, or its label
    ``failed``) or any other label is not supported, an importance other than vital is not vital."""
    if len(importance) != len(assignments):
        raise ValueError(f"{len(importance)} nuggets but {len(assignments)} assignments")
    importance = [str(i).lower() for i in importance]
    labels = [None if a is None else str(a).lower() for a in assignments]
    bad = sorted({a for a in labels if a is not None and a not in ASSIGNMENTS} | {i for i in importance if i not in IMPORTANCE})
    if bad and not reference:
        raise ValueError(f"unknown nugget labels {bad}")
    if None in labels and not reference:
        return dict.fromkeys(("all_strict", "all_partial", "vital_strict", "vital_partial", "weighted"))
    credited = [NOT_SUPPORT if a is None else a for a in labels]
    empty = 0.0 if reference else None

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else empty

    vital = [a for i, a in zip(importance, credited) if i == VITAL]
    weights = [1.0 if i == VITAL else 0.5 for i in importance]
    return {
        "all_strict": mean([_credit(a, False) for a in credited]),
        "all_partial": mean([_credit(a, True) for a in credited]),
        "vital_strict": mean([_credit(a, False) for a in vital]),
        "vital_partial": mean([_credit(a, True) for a in vital]),
        "weighted": (sum(w * _credit(a, True) for w, a in zip(weights, credited)) / sum(weights)) if weights else empty,
    }


def missed_split(assignments: Sequence[str], evidence_in_context: Sequence[bool]) -> tuple[int, int]:
    """(missed by retrieval, missed by generation): a nugget the answer does not support at all is the retriever's
    miss when none of its evidence reached the generator's context, else the generator's."""
    if len(assignments) != len(evidence_in_context):
        raise ValueError(f"{len(assignments)} assignments but {len(evidence_in_context)} evidence flags")
    missed = [shown for a, shown in zip(assignments, evidence_in_context) if a == NOT_SUPPORT]
    return sum(1 for shown in missed if not shown), sum(1 for shown in missed if shown)
