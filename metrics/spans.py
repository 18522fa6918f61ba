"""Character-span retrieval metrics of Chroma's chunking evaluation (docs/metrics.md#span-metrics).

Spans are ``(doc_id, start, end)`` half-open ranges; a chunk only intersects references of its own
document (Chroma: its own corpus). The quirks of the reference code are kept on purpose, because they
change the numbers:

- intersection is ``(max start, min end)`` whenever ``max start <= min end``: touching spans give a
  zero-length intersection, which still counts as a hit;
- recall divides by the *sum* of reference lengths; precision and IoU divide by the *sum* of retrieved
  chunk lengths (overlapping chunks count twice, chunks of other documents count);
- IoU's denominator is retrieved length + reference characters not covered, not a strict union;
- Precision-Omega's denominator is the *union* of highlighted chunks and uncovered references.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from ragsweep.types import Span

Range = tuple[int, int]


def union_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Merge overlapping or contiguous ranges (``[a,b)`` and ``[b,c)`` become ``[a,c)``)."""
    merged: list[Range] = []
    for start, end in sorted(ranges, key=lambda r: r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(a: Range, b: Range) -> Range | None:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start <= end else None


def difference(ranges: Sequence[Range], target: Range) -> list[Range]:
    """Subtract ``target`` from each range, with the reference's strict comparisons."""
    out: list[Range] = []
    t_start, t_end = target
    for start, end in ranges:
        if end < t_start or start > t_end:
            out.append((start, end))
            continue
        if start < t_start:
            out.append((start, t_start))
        if end > t_end:
            out.append((t_end, end))
    return out


def total_length(ranges: Iterable[Range]) -> int:
    return sum(end - start for start, end in ranges)


def _by_doc(spans: Iterable[Span]) -> dict[str, list[Range]]:
    grouped: dict[str, list[Range]] = defaultdict(list)
    for s in spans:
        grouped[s.doc_id].append((s.start, s.end))
    return grouped


@dataclass(frozen=True)
class _Coverage:
    covered: int  # length of the union of all chunk/reference intersections
    uncovered: dict[str, list[Range]]  # reference remainders no chunk touched
    highlighted: list[Span]  # chunks with at least one (possibly zero-length) intersection


def _coverage(chunks: Sequence[Span], references: Sequence[Span]) -> _Coverage:
    refs = _by_doc(references)
    unused = {doc: list(r) for doc, r in refs.items()}
    hits: dict[str, list[Range]] = defaultdict(list)
    highlighted: list[Span] = []
    for chunk in chunks:
        touched = False
        for ref in refs.get(chunk.doc_id, ()):
            inter = intersect((chunk.start, chunk.end), ref)
            if inter is None:
                continue
            touched = True
            unused[chunk.doc_id] = difference(unused[chunk.doc_id], inter)
            hits[chunk.doc_id].append(inter)
        if touched:
            highlighted.append(chunk)
    covered = sum(total_length(union_ranges(r)) for r in hits.values())
    return _Coverage(covered, unused, highlighted)


@dataclass(frozen=True)
class SpanScores:
    recall: float
    precision: float
    iou: float


def span_scores(retrieved: Sequence[Span], references: Sequence[Span]) -> SpanScores:
    """Recall, precision and IoU of the retrieved chunks (already cut to top-k) against references."""
    cov = _coverage(retrieved, references)
    ref_len = total_length((r.start, r.end) for r in references)
    retrieved_len = total_length((c.start, c.end) for c in retrieved)
    unused_len = sum(total_length(r) for r in cov.uncovered.values())
    recall = cov.covered / ref_len if ref_len else 0.0
    precision = cov.covered / retrieved_len if retrieved_len else 0.0
    iou_den = retrieved_len + unused_len
    return SpanScores(recall, precision, cov.covered / iou_den if iou_den else 0.0)


def precision_omega(corpus_chunks: Sequence[Span], references: Sequence[Span]) -> tuple[float, int]:
    """Precision-Omega over every chunk of the references' documents, and the highlighted chunk count.

    Omega is the precision a retriever with perfect recall would get: covered reference characters over
    the union of every chunk that touches a reference, plus reference characters no chunk touches.
    """
    docs = {r.doc_id for r in references}
    cov = _coverage([c for c in corpus_chunks if c.doc_id in docs], references)
    if not cov.highlighted:
        return 0.0, 0
    denominator = 0
    for doc in docs:
        ranges = [(c.start, c.end) for c in cov.highlighted if c.doc_id == doc] + cov.uncovered.get(doc, [])
        denominator += total_length(union_ranges(ranges))
    return (cov.covered / denominator if denominator else 0.0), len(cov.highlighted)
