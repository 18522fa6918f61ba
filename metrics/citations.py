"""Citation precision, recall and F1 over (law, section) pairs (docs/metrics.md#nitibench).

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


def citation_prf(tp: int, n_generated: int, n_reference: int, reference_swapped: bool = False) -> PRF:
    """P/R/F1 from counts (micro scores sum the counts first)."""
    precision = tp / n_generated if n_generated else 0.0
    recall = tp / n_reference if n_reference else 0.0
    if reference_swapped:
        precision, recall = recall, precision
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def citation_scores(generated: Iterable[Citation], reference: Iterable[Citation], reference_swapped: bool = False) -> PRF:
    gen, ref = set(generated), set(reference)
    return citation_prf(len(gen & ref), len(gen), len(ref), reference_swapped)


def citation_micro(
    generated: Sequence[Iterable[Citation]], reference: Sequence[Iterable[Citation]], reference_swapped: bool = False
) -> PRF:
    tp = n_gen = n_ref = 0
    for g, r in zip(generated, reference):
        gs, rs = set(g), set(r)
        tp, n_gen, n_ref = tp + len(gs & rs), n_gen + len(gs), n_ref + len(rs)
    return citation_prf(tp, n_gen, n_ref, reference_swapped)


def citation_macro(
    generated: Sequence[Iterable[Citation]], reference: Sequence[Iterable[Citation]], reference_swapped: bool = False
) -> PRF:
    scores = [citation_scores(g, r, reference_swapped) for g, r in zip(generated, reference)]
    if not scores:
        return PRF(0.0, 0.0, 0.0)
    return PRF(*(sum(getattr(s, f) for s in scores) / len(scores) for f in ("precision", "recall", "f1")))


@dataclass(frozen=True)
class CitedAnswer:
    """A generator reply read as ``{"answer": str, "citations": [n, ...]}``. ``cited`` holds the 1-based
    context numbers in the order given (duplicates kept: scores use sets); ``unknown`` the cited values that
    name no context passage; ``error`` why the citations could not be read (then ``cited`` is None and the
    answer is the reply's text, so the answer is still scored; the citations never are)."""

    answer: str
    cited: tuple[int, ...] | None
    unknown: tuple[str, ...] = ()
    error: str | None = None


def read_cited_answer(text: str, n_context: int) -> CitedAnswer:
    """Never guesses: citations come only from the JSON ``citations`` list; a number outside 1..n_context, or
    anything that is not a number, is an unknown citation (a wrong one), not dropped."""
    from ragsweep.metrics.judge import parse_json_object

    reply = parse_json_object(text)
    if reply is None:
        return CitedAnswer(text.strip(), None, error="no JSON object in the reply")
    answer, citations = reply.get("answer"), reply.get("citations")
    if not isinstance(answer, str):
        return CitedAnswer(text.strip(), None, error="no string 'answer' in the reply")
    if not isinstance(citations, list):
        return CitedAnswer(answer.strip(), None, error="no 'citations' list in the reply")
    cited, unknown = [], []
    for c in citations:
        number = c if isinstance(c, int) and not isinstance(c, bool) else (int(c.strip("[] ")) if isinstance(c, str) and c.strip("[] ").isdigit() else None)
        if number is not None and 1 <= number <= n_context:
            cited.append(number)
        else:
            unknown.append(str(c))
    return CitedAnswer(answer.strip(), tuple(cited), tuple(unknown))
