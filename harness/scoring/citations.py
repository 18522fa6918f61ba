"""Citations of a citing generator: NitiBench citation precision / recall / F1 over law sections where the
suite has gold sections (micro averages in the summary), else over documents, and the share of cited chunks
that overlap a gold span. Unreadable citation replies are counted, never scored."""

from __future__ import annotations

from typing import Any, Sequence

from ragsweep.metrics.citations import citation_prf, citation_scores
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView
from ragsweep.scoring.sections import chunk_sections
from ragsweep.types import Chunk


def citation_metrics(
    cited: Sequence[str], by_id: dict[str, Chunk], gold_sections: Sequence[str], gold_doc_ids: Sequence[str], gold_spans: Sequence[Any],
    doc_sections: dict[str, list[list[Any]]], section_mapping: str, reference_swapped: bool,
) -> dict[str, float]:
    """Scores of one answer's cited chunk ids (unknown ids count as wrong citations):
    NitiBench citation P/R/F1 over ``law-section`` ids (the cited chunks' sections) where the suite has gold
    sections, else precision/recall of the cited chunks' documents against the gold documents; and the share of
    cited chunks that overlap a gold span. An answer citing nothing scores 0 (the reference's 0/0 rule)."""
    chunks = [by_id[c] for c in cited if c in by_id]
    unknown = [c for c in cited if c not in by_id]
    out: dict[str, Any] = {}
    if gold_sections:
        sections = {s for c in chunks for s in chunk_sections(c, doc_sections, section_mapping)} | set(unknown)
        prf = citation_scores(sections, set(gold_sections), reference_swapped)
        out.update(citation_precision=prf.precision, citation_recall=prf.recall, citation_f1=prf.f1)
        # counts for the micro scores (ints: never averaged as metrics)
        out.update(citation_tp=len(sections & set(gold_sections)), citation_generated=len(sections), citation_reference=len(set(gold_sections)))
    elif gold_doc_ids:
        prf = citation_scores({c.doc_id for c in chunks} | set(unknown), set(gold_doc_ids), reference_swapped)
        out.update(citation_doc_precision=prf.precision, citation_doc_recall=prf.recall, citation_doc_f1=prf.f1)
    if gold_spans:
        on_gold = [c for c in chunks if any(s.doc_id == c.doc_id and s.start < c.end and c.start < s.end for s in gold_spans)]
        out["cited_chunks_on_gold"] = len(on_gold) / len(cited) if cited else 0.0
    return out


def citation_summary(records: Sequence[dict[str, Any]], reference_swapped: bool) -> dict[str, Any]:
    """How many answers were asked for citations, how many replies could not be read (never scored), how
    many cited nothing or cited unknown passages, and NitiBench's micro citation P/R/F1 over the readable ones."""
    asked = [r for r in records if "citations" in r]
    readable = [r for r in asked if r["citation_error"] is None]
    out: dict[str, Any] = {
        "citations_asked": len(asked),
        "citations_unreadable": len(asked) - len(readable),
        "answers_without_citations": sum(1 for r in readable if not r["citations"]),
        "citations_unknown": sum(1 for r in readable for c in r["citations"] if c.startswith("?")),
    }
    sectioned = [r for r in readable if "citation_tp" in r]
    if sectioned:
        micro = citation_prf(*(sum(r[k] for r in sectioned) for k in ("citation_tp", "citation_generated", "citation_reference")), reference_swapped)
        out.update(citation_micro_precision=micro.precision, citation_micro_recall=micro.recall, citation_micro_f1=micro.f1)
    return out


@METRICS.register("citations")
class CitationMetrics(Metric):
    phase = "answer"
    needs = "a citing generator (generator=*_cited) and gold sections, documents or spans"

    def __init__(self, mapping: str = "overlap", reference_swapped: bool = False):
        self.mapping, self.reference_swapped = mapping, reference_swapped

    def headline(self) -> list[str]:
        return ["citation_f1", "citation_doc_f1"]

    def declared_columns(self) -> list[str]:
        return [f"citation_{d}{m}" for d in ("", "doc_") for m in ("precision", "recall", "f1")] + ["cited_chunks_on_gold"]

    def columns(self, view: QueryView) -> dict[str, Any]:
        gen, q = view.generation, view.query
        if gen is None or (gen.citations is None and gen.citation_error is None):
            return {}
        out: dict[str, Any] = {"citations": None if gen.citations is None else list(gen.citations), "citation_error": gen.citation_error}
        if gen.citations is not None:
            out.update(citation_metrics(
                gen.citations, view.by_id, q.metadata.get("gold_sections") or (), q.gold_doc_ids, q.gold_spans,
                view.doc_sections, self.mapping, self.reference_swapped,
            ))
        return out

    def summary(self, records, result) -> dict[str, Any]:
        return citation_summary(records, self.reference_swapped) if any("citations" in r for r in records) else {}
