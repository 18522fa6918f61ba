"""What a context selector gave the generator (``selector`` other than none): its size, in chunks and in tokens, and
how much of the gold evidence it holds (span recall, precision and IoU of the selected chunks; the share of gold
documents with a selected chunk). The columns appear only in runs with a selector, so a selector sweep reads quality
against the tokens it spends; the answer metrics then say what the generator made of it."""

from __future__ import annotations

from typing import Any

from ragsweep.metrics.spans import span_scores
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView
from ragsweep.selectors.base import token_counts


@METRICS.register("selection")
class SelectionMetrics(Metric):
    needs = "a selector; gold spans or documents for the recall columns"

    def __init__(self, encoding: str = "cl100k_base"):
        self.encoding = encoding

    def headline(self) -> list[str]:
        return ["context_tokens", "context_span_iou", "context_doc_recall"]

    def lower_is_better(self) -> list[str]:
        return ["context_tokens", "context_chunks"]

    def declared_columns(self) -> list[str]:
        return ["context_chunks", "context_tokens", "context_span_recall", "context_span_precision", "context_span_iou", "context_doc_recall"]

    def columns(self, view: QueryView) -> dict[str, Any]:
        if view.selected is None:
            return {}
        chosen = view.selected
        out: dict[str, Any] = {"context_chunks": float(len(chosen)), "context_tokens": float(sum(token_counts(chosen, self.encoding)))}
        if view.query.gold_spans:
            s = span_scores([c.span for c in chosen], view.query.gold_spans)
            out.update(context_span_recall=s.recall, context_span_precision=s.precision, context_span_iou=s.iou)
        if view.query.gold_doc_ids:
            gold = set(view.query.gold_doc_ids)
            out["context_doc_recall"] = len(gold & {c.doc_id for c in chosen}) / len(gold)
        return out
