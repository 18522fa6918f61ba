"""TREC-style columns from an assessor's labels and nuggets (assessor=llm), beside the gold-only metrics, never
mixed into them: ``judged_ndcg@k``, ``judged_precision@k`` and ``judged@k`` over the chunk labels (gold-decided
where the gold decides, the LLM's elsewhere); the nugget scores of the answer (``nugget_vital_strict`` the
headline), and the share of nuggets the answer misses because retrieval never showed their evidence
(``nugget_missed_retrieval``) or although it did (``nugget_missed_generation``). A query without a vital nugget has
no vital score, and one whose nuggets or assignments failed no nugget score: both are counted as unscored beside
the mean (metrics.json ``n``, run.json ``unscored_queries``, summary ``nugget_queries``). ``nugget_reference_compat``
scores as AutoNuggetizer's scorer does instead: 0.0 for such queries, a failed assignment as not supported. The summary holds the label
store's reuse counts and the assessor's agreement with the gold on the chunks the gold decides (Cohen's kappa
with a 95% interval resampling whole queries)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ragsweep.metrics.agreement import bootstrap_interval, cohen_kappa
from ragsweep.metrics.trec import graded_ndcg_at_k, judged_at_k, missed_split, nugget_scores, precision_at_k
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView

NUGGET_SCORES = ("all_strict", "all_partial", "vital_strict", "vital_partial", "weighted")


@METRICS.register("trec")
class TrecColumns(Metric):
    phase = "answer"
    needs = "an assessor (assessor=llm)"
    info_columns = ("nuggets_total", "nuggets_vital", "nuggets_missed_retrieval", "nuggets_missed_generation")

    def __init__(self, k: Sequence[int] = (5, 10), nugget_reference: bool = False):
        self.k, self.nugget_reference = list(k), bool(nugget_reference)

    def headline(self) -> list[str]:
        return [f"judged_ndcg@{max(self.k)}", f"judged@{max(self.k)}", "nugget_vital_strict", "nugget_missed_retrieval", "nugget_missed_generation"]

    def lower_is_better(self) -> list[str]:
        return ["nugget_missed_retrieval", "nugget_missed_generation"]

    def declared_columns(self) -> list[str]:
        per_k = [f"{m}@{k}" for k in self.k for m in ("judged_ndcg", "judged_precision", "judged")]
        return per_k + [f"nugget_{n}" for n in (*NUGGET_SCORES, "missed_retrieval", "missed_generation")]

    def columns(self, view: QueryView) -> dict[str, Any]:
        a = view.assessment
        if a is None:
            return {}
        ranked = [c.chunk_id for c in view.ranked]
        labels = {cid: grade for cid, (grade, _) in a["labels"].items()}
        out: dict[str, Any] = {}
        for k in self.k:
            ndcg = graded_ndcg_at_k(ranked, labels, k)
            if ndcg is not None:
                out[f"judged_ndcg@{k}"] = ndcg
            out[f"judged_precision@{k}"] = precision_at_k(ranked, labels, k, a["relevant_from"])
            out[f"judged@{k}"] = judged_at_k(ranked, labels, k)
        nuggets = a.get("nuggets")
        if a.get("nuggets_status") and (self.nugget_reference or (a["nuggets_status"] == "scored" and nuggets)):
            # Defined scores for a scored query; AutoNuggetizer's for every assessed query under nugget_reference.
            scores = nugget_scores([n["importance"] for n in nuggets or ()], [n["assignment"] for n in nuggets or ()], reference=self.nugget_reference)
            out.update({f"nugget_{name}": value for name, value in scores.items() if value is not None})
        if a.get("nuggets_status") == "scored" and nuggets:
            out.update(nuggets_total=len(nuggets), nuggets_vital=sum(1 for n in nuggets if n["importance"] == "vital"))
            if all(isinstance(n["in_context"], bool) for n in nuggets):  # the reference's nuggets keep no evidence span
                by_retrieval, by_generation = missed_split([n["assignment"] for n in nuggets], [n["in_context"] for n in nuggets])
                out.update(nuggets_missed_retrieval=by_retrieval, nuggets_missed_generation=by_generation,
                           nugget_missed_retrieval=by_retrieval / len(nuggets), nugget_missed_generation=by_generation / len(nuggets))
        # The labels behind these numbers, in the record itself: what `ragsweep trec-export` writes as qrels.
        out["assessment_labels"] = json.dumps(a["labels"], sort_keys=True, ensure_ascii=False)
        out["relevant_from"] = a["relevant_from"]
        if a.get("nuggets_status"):
            out["nuggets_status"] = a["nuggets_status"]
            out["nuggets_json"] = json.dumps(nuggets, ensure_ascii=False) if nuggets else None
        return out

    def summary(self, records, result) -> dict[str, Any]:
        if not result.assessments:
            return {}
        out: dict[str, Any] = {"assessment": result.assessment_stats, "assessor_gold_agreement": gold_agreement(result.assessments)}
        scored = [r for r in records if "nuggets_missed_retrieval" in r]
        if scored:
            out["nuggets_missed_retrieval"] = sum(r["nuggets_missed_retrieval"] for r in scored)
            out["nuggets_missed_generation"] = sum(r["nuggets_missed_generation"] for r in scored)
            out["nuggets_total"] = sum(r["nuggets_total"] for r in scored)
        return out


def gold_agreement(assessments: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """The assessor's binary verdict (grade >= relevant_from) against the gold's on every pool chunk the gold
    decides and the assessor labelled: n, Cohen's kappa with a 95% interval over whole queries (null where the
    gold holds one class only, as in a suite not declared fully judged, or the assessor used one label throughout),
    and its rates on the gold's positives and negatives."""
    gold, llm, groups = [], [], []
    unreadable = 0
    for a in assessments:
        for cid, grade in a["llm_labels"].items():
            label = a["labels"].get(cid)
            if label is None or label[1] == "llm":
                continue
            if grade is None:
                unreadable += 1
                continue
            gold.append(label[0] >= a["relevant_from"])
            llm.append(grade >= a["relevant_from"])
            groups.append(a["query_id"])
    both_classes = len(set(gold)) == 2  # with one gold class kappa says nothing: the rates below do
    kappa = cohen_kappa(gold, llm) if both_classes else float("nan")
    low, high = bootstrap_interval(cohen_kappa, gold, llm, groups, seed=seed) if both_classes else (float("nan"), float("nan"))
    positives = [v for g, v in zip(gold, llm) if g]
    negatives = [v for g, v in zip(gold, llm) if not g]
    finite = lambda x: x if x == x else None  # noqa: E731
    return {
        "n": len(gold), "unreadable": unreadable, "cohen_kappa": finite(kappa), "ci_low": finite(low), "ci_high": finite(high),
        "gold_positives": len(positives), "gold_negatives": len(negatives),
        "true_positive_rate": sum(positives) / len(positives) if positives else None,
        "true_negative_rate": (len(negatives) - sum(negatives)) / len(negatives) if negatives else None,
    }
