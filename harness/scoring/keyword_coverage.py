"""CoFE-RAG keyword coverage: recall and accuracy of the query's keywords in the top k chunks, accuracy over
the whole ranking, and the same over the retriever's own ranking where a reranker reordered it."""

from __future__ import annotations

from typing import Any, Sequence

from ragsweep.metrics.keywords import keyword_scores
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView
from ragsweep.types import Chunk


def keyword_metrics(
    ranked: Sequence[Chunk], coarse: Sequence[str], fine: Sequence[Sequence[str]], k: int, suffix: str = "", reference_compat: bool = False, flat: bool = False
) -> dict[str, float]:
    """CoFE-RAG keyword recall/accuracy over the top k, and accuracy over the whole list (``recall_hit``)."""
    top = keyword_scores([c.text for c in ranked[:k]], coarse, fine, reference_compat, flat)
    if top is None:
        return {}
    whole = keyword_scores([c.text for c in ranked], coarse, fine, reference_compat, flat)
    assert whole is not None
    return {
        f"keyword_recall{suffix}@{k}": top.recall,
        f"keyword_accuracy{suffix}@{k}": top.accuracy,
        f"keyword_accuracy{suffix}@all": whole.accuracy,
    }


@METRICS.register("keywords")
class KeywordCoverage(Metric):
    needs = "keywords (a CoFE-RAG keyword file: task.keywords)"

    def __init__(self, k: int = 4, reference_compat: bool = False):
        self.k, self.reference_compat = k, reference_compat

    def declared_columns(self) -> list[str]:
        return [f"keyword_{m}{suffix}@{k}" for suffix in ("", "_retrieved") for m, k in (("recall", self.k), ("accuracy", self.k), ("accuracy", "all"))]

    def columns(self, view: QueryView) -> dict[str, Any]:
        q = view.query
        flat = bool(q.metadata.get("keywords_flat"))
        out = keyword_metrics(view.ranked, q.keywords_coarse, q.keywords_fine, self.k, "", self.reference_compat, flat)
        if view.reranked:
            out.update(keyword_metrics(view.retrieved, q.keywords_coarse, q.keywords_fine, self.k, "_retrieved", self.reference_compat, flat))
        return out

    def summary(self, records, result) -> dict[str, Any]:
        rows = [r for r in records if any(k.startswith("keyword_") for k in r)]
        return {"keyword_queries": len(rows)} if rows else {}
