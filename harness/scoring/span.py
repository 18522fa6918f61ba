"""Character-span metrics (Chroma's and Jadon et al.'s): recall, precision and IoU of the top k chunks' spans
against the gold spans, and Precision-Omega over every chunk of the gold documents.

``chunk_ranges``: ``exact`` (default) scores each chunk's own document range; ``reference`` scores where the
reference code re-locates it (the chunk's ``reference_range``, recorded by ``chunker.locate=reference``; one not
found there is an empty range at the document start and counted in ``chunks_not_relocated``). A row the loader
kept with an empty reference list (``task.on_invalid_reference=reference``) is scored as the reference scores it:
recall 1, precision 0, IoU 0, Omega 0."""

from __future__ import annotations

from typing import Any

from ragsweep.metrics.spans import precision_omega, span_scores
from ragsweep.errors import ConfigError
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView
from ragsweep.types import Chunk, Span


@METRICS.register("span")
class SpanMetrics(Metric):
    needs = "gold_spans"
    info_columns = ("highlighted_chunks",)

    def __init__(self, k: int = 5, chunk_ranges: str = "exact"):
        if chunk_ranges not in ("exact", "reference"):
            raise ConfigError(f"span_chunk_ranges must be exact or reference, not {chunk_ranges!r}")
        self.k, self.chunk_ranges = k, chunk_ranges

    def _span(self, chunk: Chunk) -> Span:
        if self.chunk_ranges == "exact":
            return chunk.span
        if "reference_range" not in chunk.metadata:
            raise ConfigError(f"span_chunk_ranges=reference needs each chunk's reference range: chunk {chunk.chunk_id!r} has none "
                              "(chunker=sentences chunker.splitter=jadon chunker.locate=reference records it)")
        found = chunk.metadata["reference_range"]
        return Span(chunk.doc_id, *found) if found else Span(chunk.doc_id, 0, 0)

    def headline(self) -> list[str]:
        return [f"span_iou@{self.k}", f"span_recall@{self.k}", f"span_precision@{self.k}", "precision_omega"]

    def declared_columns(self) -> list[str]:
        return self.headline()

    def columns(self, view: QueryView) -> dict[str, Any]:
        gold = view.query.gold_spans
        if view.query.metadata.get("empty_references"):
            return {f"span_recall@{self.k}": 1.0, f"span_precision@{self.k}": 0.0, f"span_iou@{self.k}": 0.0, "precision_omega": 0.0,
                    "highlighted_chunks": 0.0}
        if not gold:
            return {}
        s = span_scores([self._span(c) for c in view.ranked[: self.k]], gold)
        omega, highlighted = precision_omega([self._span(c) for c in view.gold_doc_chunks], gold)
        return {
            f"span_recall@{self.k}": s.recall, f"span_precision@{self.k}": s.precision, f"span_iou@{self.k}": s.iou,
            "precision_omega": omega, "highlighted_chunks": float(highlighted),
        }

    def summary(self, records, result) -> dict[str, Any]:
        if self.chunk_ranges != "reference":
            return {}
        return {"chunks_not_relocated": sum(1 for c in result.chunks if c.metadata.get("reference_range", ()) is None)}
