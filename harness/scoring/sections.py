"""NitiBench's section metrics: hit, multi-hit, recall, MRR and multi-MRR over the law sections the ranked
chunks stand for, at each k, under the chosen chunk-to-section mapping (plain names) and the other one
(``section_<metric>_<mapping>@k``), and the micro recall of the run."""

from __future__ import annotations

from typing import Any, Sequence

from ragsweep.metrics import sections as sec
from ragsweep.metrics.sections import SECTION_MAPPINGS
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView
from ragsweep.types import Chunk


def chunk_sections(chunk: Chunk, doc_sections: dict[str, list[list[Any]]], mapping: str = "overlap") -> list[str]:
    """``law-section`` ids a chunk stands for. ``overlap``: every section it overlaps by at least one
    character. ``contained``: only sections that lie wholly inside it, the rule of NitiBench's released
    ``553_50_line/chunk_to_gold_mapping.json`` (docs/metrics.md#nitibench)."""
    sections = doc_sections.get(chunk.doc_id, ())
    if mapping == "contained":
        return [f"{chunk.doc_id}-{num}" for num, start, end in sections if chunk.start <= start and end <= chunk.end]
    return [f"{chunk.doc_id}-{num}" for num, start, end in sections if start < chunk.end and chunk.start < end]


def section_metrics(
    ranked_sections: Sequence[Sequence[str]], gold_sections: Sequence[str], section_k: Sequence[int], suffix: str = ""
) -> dict[str, float]:
    """NitiBench's hit / multi-hit / recall / MRR / multi-MRR over sections, at each k."""
    out: dict[str, float] = {}
    for k in section_k:
        out[f"section_hit{suffix}@{k}"] = sec.hit_rate(ranked_sections, gold_sections, k)
        out[f"section_multi_hit{suffix}@{k}"] = sec.multi_hit_rate(ranked_sections, gold_sections, k)
        out[f"section_recall{suffix}@{k}"] = sec.section_recall(ranked_sections, gold_sections, k)
        out[f"section_mrr{suffix}@{k}"] = sec.mrr(ranked_sections, gold_sections, k)
        out[f"section_multi_mrr{suffix}@{k}"] = sec.multi_mrr(ranked_sections, gold_sections, k)
    return out


@METRICS.register("sections")
class SectionMetrics(Metric):
    needs = "gold sections (NitiBench suites)"

    def __init__(self, k: Sequence[int] = (1, 5, 10, 20), mapping: str = "overlap"):
        self.k, self.mapping = list(k), mapping
        self.other = next(m for m in SECTION_MAPPINGS if m != mapping)

    def headline(self) -> list[str]:
        return ["section_hit@10", "section_multi_hit@10", "section_recall@10", "section_mrr@10", "section_multi_mrr@10"]

    def declared_columns(self) -> list[str]:
        names = ("hit", "multi_hit", "recall", "mrr", "multi_mrr")
        return [f"section_{m}{suffix}@{k}" for suffix in ("", f"_{self.other}") for k in self.k for m in names]

    def columns(self, view: QueryView) -> dict[str, Any]:
        gold = view.query.metadata.get("gold_sections")
        if not gold or not view.doc_sections:
            return {}
        ranked_sections = [chunk_sections(c, view.doc_sections, self.mapping) for c in view.ranked]
        out: dict[str, Any] = {"ranked_sections": ranked_sections, **section_metrics(ranked_sections, gold, self.k)}
        other = [chunk_sections(c, view.doc_sections, self.other) for c in view.ranked]
        out.update(section_metrics(other, gold, self.k, f"_{self.other}"))
        return out

    def summary(self, records, result) -> dict[str, Any]:
        """Micro recall: gold sections found over gold sections asked, pooled over the queries."""
        gold_sizes = [len(q.metadata.get("gold_sections") or ()) for q in result.queries]
        names = dict.fromkeys(k for r in records for k, v in r.items() if k.startswith("section_recall@") and isinstance(v, float))
        return {
            f"section_micro_recall@{name.split('@')[1]}": sec.micro_recall(
                [r.get(name) or 0.0 for r in records], [n if r.get(name) is not None else 0 for r, n in zip(records, gold_sizes)]
            )
            for name in names
        }
