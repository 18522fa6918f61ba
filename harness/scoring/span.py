"""Character-span metrics (Chroma's and Jadon et al.'s): recall, precision and IoU of the top k chunks' spans
against the gold spans, and Precision-Omega over every chunk of the gold documents."""

from __future__ import annotations

from typing import Any

from ragsweep.metrics.spans import precision_omega, span_scores
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView


@METRICS.register("span")
class SpanMetrics(Metric):
    needs = "gold_spans"
    info_columns = ("highlighted_chunks",)

    def __init__(self, k: int = 5):
        self.k = k

    def headline(self) -> list[str]:
        return [f"span_iou@{self.k}", f"span_recall@{self.k}", f"span_precision@{self.k}", "precision_omega"]

    def columns(self, view: QueryView) -> dict[str, Any]:
        gold = view.query.gold_spans
        if not gold:
            return {}
        s = span_scores([c.span for c in view.ranked[: self.k]], gold)
        omega, highlighted = precision_omega([c.span for c in view.gold_doc_chunks], gold)
        return {
            f"span_recall@{self.k}": s.recall, f"span_precision@{self.k}": s.precision, f"span_iou@{self.k}": s.iou,
            "precision_omega": omega, "highlighted_chunks": float(highlighted),
        }
