"""Citation precision, recall and F1 over (law, section) pairs (metrics-reference.md section 3.4).

Correct definitions: precision = TP / |generated|, recall = TP / |reference|. NitiBench's code swaps the
false-positive and false-negative sets, so its published "precision" column is recall and vice versa;
``reference_swapped=True`` reproduces those columns for comparison with published numbers. F1 is the
same either way. Macro: per query, then averaged (a query with 0/0 scores 0). Micro: summed counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

Citation = tuple[str, str]


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def _prf(tp: int, n_generated: int, n_reference: int, reference_swapped: bool) -> PRF:
    precision = tp / n_generated if n_generated else 0.0
    recall = tp / n_reference if n_reference else 0.0
    if reference_swapped:
        precision, recall = recall, precision
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def citation_scores(generated: Iterable[Citation], reference: Iterable[Citation], reference_swapped: bool = False) -> PRF:
    gen, ref = set(generated), set(reference)
    return _prf(len(gen & ref), len(gen), len(ref), reference_swapped)


def citation_micro(
    generated: Sequence[Iterable[Citation]], reference: Sequence[Iterable[Citation]], reference_swapped: bool = False
) -> PRF:
    tp = n_gen = n_ref = 0
    for g, r in zip(generated, reference):
        gs, rs = set(g), set(r)
        tp, n_gen, n_ref = tp + len(gs & rs), n_gen + len(gs), n_ref + len(rs)
    return _prf(tp, n_gen, n_ref, reference_swapped)


def citation_macro(
    generated: Sequence[Iterable[Citation]], reference: Sequence[Iterable[Citation]], reference_swapped: bool = False
) -> PRF:
    scores = [citation_scores(g, r, reference_swapped) for g, r in zip(generated, reference)]
    if not scores:
        return PRF(0.0, 0.0, 0.0)
    return PRF(*(sum(getattr(s, f) for s in scores) / len(scores) for f in ("precision", "recall", "f1")))
