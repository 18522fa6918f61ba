"""Document retrieval: recall, hit, MRR and nDCG at each k of the documents of the ranked chunks (nDCG with
graded gains where the suite has grades, as trec_eval computes it)."""

from __future__ import annotations

from typing import Any, Sequence

from ragsweep.metrics.retrieval import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView


@METRICS.register("doc")
class DocRetrieval(Metric):
    needs = "gold_doc_ids"

    def __init__(self, k: Sequence[int] = (1, 5, 10)):
        self.k = list(k)

    def headline(self) -> list[str]:
        return ["doc_recall@5", "doc_mrr@10", "doc_ndcg@10"]

    def declared_columns(self) -> list[str]:
        return [f"doc_{m}@{k}" for k in self.k for m in ("recall", "hit", "mrr", "ndcg")]

    def columns(self, view: QueryView) -> dict[str, Any]:
        q = view.query
        if not q.gold_doc_ids:
            return {}
        ranked_docs = [c.doc_id for c in view.ranked]
        grades = dict(q.gold_doc_grades) or None
        out: dict[str, float] = {}
        for k in self.k:
            out[f"doc_recall@{k}"] = recall_at_k(ranked_docs, q.gold_doc_ids, k)
            out[f"doc_hit@{k}"] = hit_at_k(ranked_docs, q.gold_doc_ids, k)
            out[f"doc_mrr@{k}"] = mrr_at_k(ranked_docs, q.gold_doc_ids, k)
            out[f"doc_ndcg@{k}"] = ndcg_at_k(ranked_docs, q.gold_doc_ids, k, grades)
        return out
