"""Records (one row per query) and their aggregates, from a pipeline result.

A metric is computed only where the suite has the gold it needs: span metrics need gold spans,
retrieval metrics gold doc ids, answer metrics gold answers and a generator. A generation that failed
is kept as a row with its error and no answer score; it is counted in ``generation_errors`` and in
``answer_valid`` instead of being scored as right or wrong.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from ragsweep.hashing import canonical_json
from ragsweep.pipeline import PipelineResult
from ragsweep.types import Chunk
from ragsweep.metrics.aggregate import summarize
from ragsweep.metrics.agreement import cohen_kappa
from ragsweep.metrics.answers import exact_match, token_f1
from ragsweep.metrics.citations import citation_prf, citation_scores
from ragsweep.metrics.judge import coverage_label_from_f1
from ragsweep.metrics.keywords import keyword_scores
from ragsweep.metrics.retrieval import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from ragsweep.metrics import sections as sec
from ragsweep.metrics.sections import SECTION_MAPPINGS
from ragsweep.metrics.spans import precision_omega, span_scores


def query_metrics(
    gold_doc_ids: Sequence[str],
    gold_spans: Sequence[Any],
    ranked: Sequence[Chunk],
    corpus_chunks: Sequence[Chunk],
    eval_k: Sequence[int],
    span_k: int,
    grades: dict[str, float] | None = None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    if gold_doc_ids:
        ranked_docs = [c.doc_id for c in ranked]
        for k in eval_k:
            out[f"doc_recall@{k}"] = recall_at_k(ranked_docs, gold_doc_ids, k)
            out[f"doc_hit@{k}"] = hit_at_k(ranked_docs, gold_doc_ids, k)
            out[f"doc_mrr@{k}"] = mrr_at_k(ranked_docs, gold_doc_ids, k)
            out[f"doc_ndcg@{k}"] = ndcg_at_k(ranked_docs, gold_doc_ids, k, grades)
    if gold_spans:
        s = span_scores([c.span for c in ranked[:span_k]], gold_spans)
        out[f"span_recall@{span_k}"] = s.recall
        out[f"span_precision@{span_k}"] = s.precision
        out[f"span_iou@{span_k}"] = s.iou
        out["precision_omega"], highlighted = precision_omega([c.span for c in corpus_chunks], gold_spans)
        out["highlighted_chunks"] = float(highlighted)
    return out


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


def chunk_sections(chunk: Chunk, doc_sections: dict[str, list[list[Any]]], mapping: str = "overlap") -> list[str]:
    """``law-section`` ids a chunk stands for. ``overlap``: every section it overlaps by at least one
    character. ``contained``: only sections that lie wholly inside it, the rule of NitiBench's released
    ``553_50_line/chunk_to_gold_mapping.json`` (metrics-reference 3.1)."""
    sections = doc_sections.get(chunk.doc_id, ())
    if mapping == "contained":
        return [f"{chunk.doc_id}-{num}" for num, start, end in sections if chunk.start <= start and end <= chunk.end]
    return [f"{chunk.doc_id}-{num}" for num, start, end in sections if start < chunk.end and chunk.start < end]


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


def judge_columns(verdict: dict[str, Any], invalid_policy: str) -> dict[str, Any]:
    """Per-query judge scores (None = unreadable, or 0 under the reference policy), raw replies, ragas."""
    row: dict[str, Any] = {"judge_raw": json.dumps(verdict["raw"], ensure_ascii=False, sort_keys=True), "judge_skipped": verdict["skipped"]}
    invalid = []
    for column, s in verdict["scores"].items():
        score = s["score"]
        if score is None:
            invalid.append(column)
            score = 0.0 if invalid_policy == "zero" else None
        row[column] = score
    row["judge_invalid"] = invalid
    row.update(verdict.get("ragas", {}))
    return row


def build_records(
    result: PipelineResult,
    eval_k: Sequence[int],
    span_k: int,
    section_k: Sequence[int] = (1, 5, 10, 20),
    keyword_k: int = 4,
    invalid_policy: str = "exclude",
    section_mapping: str = "overlap",
    keyword_reference_compat: bool = False,
    citation_reference_swapped: bool = False,
) -> list[dict[str, Any]]:
    """One row per query. Section metrics use ``section_mapping`` under their plain names and the other
    rule under ``section_<metric>_<rule>@k`` (both are cheap); keyword metrics follow CoFE-RAG's script
    where ``keyword_reference_compat`` is set."""
    other_mapping = next(m for m in SECTION_MAPPINGS if m != section_mapping)
    by_id = {c.chunk_id: c for c in result.chunks}
    by_doc: dict[str, list[Chunk]] = {}
    for c in result.chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    retrieved = {r.query_id: r for r in result.retrieved}
    reranked = {r.query_id: r for r in result.reranked}
    generations = {g.query_id: g for g in result.generations}
    judgements = {j["query_id"]: j for j in result.judgements}
    doc_sections = {d.doc_id: d.metadata["sections"] for d in result.documents if d.metadata.get("sections")}
    records = []
    for q in result.queries:
        final = reranked[q.query_id]
        ranked = [by_id[cid] for cid in final.chunk_ids]
        gold_docs = {s.doc_id for s in q.gold_spans}
        corpus_chunks = [c for d in sorted(gold_docs) for c in by_doc.get(d, [])]
        row: dict[str, Any] = {
            "query_id": q.query_id,
            "question": q.question,
            "answers": list(q.answers),
            "gold_doc_ids": list(q.gold_doc_ids),
            "gold_spans": [{"doc_id": s.doc_id, "start": s.start, "end": s.end} for s in q.gold_spans],
            # Keys in canonical order: a cold run (the loader's order) and a cached one write the same bytes.
            "metadata": json.loads(canonical_json(q.metadata)),
            "retrieved_chunk_ids": list(retrieved[q.query_id].chunk_ids),
            "retrieved_scores": list(retrieved[q.query_id].scores),
            "ranked_chunk_ids": list(final.chunk_ids),
            "ranked_scores": list(final.scores),
            # What was retrieved, readable in the records themselves (no digging through the cache).
            "ranked_chunks": [
                {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end, "score": float(s), "text": c.text}
                for c, s in zip(ranked, final.scores)
            ],
        }
        row.update(query_metrics(q.gold_doc_ids, q.gold_spans, ranked, corpus_chunks, eval_k, span_k, dict(q.gold_doc_grades) or None))
        flat = bool(q.metadata.get("keywords_flat"))
        row.update(keyword_metrics(ranked, q.keywords_coarse, q.keywords_fine, keyword_k, "", keyword_reference_compat, flat))
        if final is not retrieved[q.query_id]:
            first_stage = [by_id[cid] for cid in retrieved[q.query_id].chunk_ids]
            row.update(keyword_metrics(first_stage, q.keywords_coarse, q.keywords_fine, keyword_k, "_retrieved", keyword_reference_compat, flat))
        if q.metadata.get("gold_sections") and doc_sections:
            ranked_sections = [chunk_sections(c, doc_sections, section_mapping) for c in ranked]
            row["ranked_sections"] = ranked_sections
            row.update(section_metrics(ranked_sections, q.metadata["gold_sections"], section_k))
            other = [chunk_sections(c, doc_sections, other_mapping) for c in ranked]
            row.update(section_metrics(other, q.metadata["gold_sections"], section_k, f"_{other_mapping}"))
        gen = generations.get(q.query_id)
        if gen is not None:
            row.update(
                answer=gen.answer,
                context_chunk_ids=list(gen.context_chunk_ids),
                prompt_tokens=gen.prompt_tokens,
                completion_tokens=gen.completion_tokens,
                latency_s=gen.latency_s,
                context_dropped=gen.context_dropped,
                generation_error=gen.error,
                answer_truncated=gen.truncated,
            )
            if gen.citations is not None or gen.citation_error is not None:
                row.update(citations=None if gen.citations is None else list(gen.citations), citation_error=gen.citation_error)
                if gen.citations is not None:
                    row.update(citation_metrics(
                        gen.citations, by_id, q.metadata.get("gold_sections") or (), q.gold_doc_ids, q.gold_spans,
                        doc_sections, section_mapping, citation_reference_swapped,
                    ))
            if q.answers and gen.error is None:
                row["answer_em"] = exact_match(gen.answer, q.answers, result.language)
                row["answer_f1"] = token_f1(gen.answer, q.answers, result.language)
        if q.query_id in judgements:
            row.update(judge_columns(judgements[q.query_id], invalid_policy))
        records.append(row)
    return records


NON_METRIC_NUMBERS = {"prompt_tokens", "completion_tokens", "latency_s", "highlighted_chunks", "context_dropped"}


def metric_names(records: Sequence[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if isinstance(v, float) and k not in NON_METRIC_NUMBERS:
                names.setdefault(k)
    return list(names)


def generation_summary(result: PipelineResult, records: Sequence[dict[str, Any]], prices: dict[str, float]) -> dict[str, Any]:
    """Errors, validity, tokens, throughput (completion tokens per second of generation time) and cost."""
    gens = result.generations
    answerable = [r for r in records if r["answers"]]
    prompt_tokens = int(sum(g.prompt_tokens for g in gens))
    completion_tokens = int(sum(g.completion_tokens for g in gens))
    busy_s = float(sum(g.latency_s for g in gens))
    return {
        "generation_errors": sum(1 for g in gens if g.error),
        "answers_truncated": sum(1 for g in gens if g.truncated),
        "answer_valid": (sum(1 for r in answerable if "answer_em" in r) / len(answerable)) if answerable else None,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "mean_latency_s": float(np.mean([g.latency_s for g in gens])),
        "completion_tokens_per_s": completion_tokens / busy_s if busy_s > 0 else None,
        "context_chunks_dropped": int(sum(g.context_dropped for g in gens)),
        "cost_usd": (prompt_tokens * prices.get("input_per_mtok", 0.0) + completion_tokens * prices.get("output_per_mtok", 0.0)) / 1e6,
    }


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


def judge_summary(records: Sequence[dict[str, Any]], result: PipelineResult) -> dict[str, Any]:
    """How many verdicts each judge column attempted and could read, and the judge's agreement with gold:
    Cohen's kappa of judged coverage vs a coverage grade derived from answer EM/F1 (short-answer suites)."""
    out: dict[str, Any] = {"judge_skipped": sum(1 for r in records if r.get("judge_skipped"))}
    judged = sorted({c for j in result.judgements for c in j["scores"]})
    ragas = sorted({k for r in records for k in r if k.startswith("ragas_")})
    # A judge verdict is invalid when listed in judge_invalid (it may read 0 under the reference policy);
    # a ragas score when ragas returned NaN.
    checks = [(c, lambda r, c=c: c not in r["judge_invalid"]) for c in judged] + [(c, lambda r, c=c: r[c] is not None) for c in ragas]
    for column, is_valid in checks:
        attempted = [r for r in records if column in r]
        out[f"{column}_attempted"] = len(attempted)
        out[f"{column}_valid"] = sum(1 for r in attempted if is_valid(r)) / len(attempted) if attempted else None
    pairs = [
        (r["judge_coverage"], coverage_label_from_f1(r["answer_em"], r["answer_f1"]))
        for r in records
        if "answer_f1" in r and r.get("judge_coverage") is not None and "judge_coverage" not in r.get("judge_invalid", ())
    ]
    if pairs:
        out["judge_coverage_kappa_vs_answer_f1"] = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
        out["judge_coverage_kappa_n"] = len(pairs)
    return out


def aggregate(
    records: Sequence[dict[str, Any]], result: PipelineResult, seed: int, prices: dict[str, float] | None = None, citation_reference_swapped: bool = False
) -> dict[str, Any]:
    """Macro mean over queries with a bootstrap CI per metric, plus run-level counts."""
    metrics = {
        name: summarize([r[name] for r in records if r.get(name) is not None], seed=seed) for name in metric_names(records)
    }
    chunk_lengths = np.array([c.end - c.start for c in result.chunks], dtype=float)
    summary: dict[str, Any] = {
        "n_queries": len(records),
        "n_documents": len(result.documents),
        "n_chunks": len(result.chunks),
        "mean_chunk_chars": float(chunk_lengths.mean()) if chunk_lengths.size else 0.0,
        "chunking_wall_s": result.chunking_wall_s,
    }
    section_recalls = [k for k in metrics if k.startswith("section_recall@")]
    gold_sizes = [len(q.metadata.get("gold_sections") or ()) for q in result.queries]
    for name in section_recalls:
        summary[f"section_micro_recall@{name.split('@')[1]}"] = sec.micro_recall(
            [r.get(name) or 0.0 for r in records], [n if r.get(name) is not None else 0 for r, n in zip(records, gold_sizes)]
        )
    if result.generations:
        summary.update(generation_summary(result, records, prices or {}))
    if any("citations" in r for r in records):
        summary.update(citation_summary(records, citation_reference_swapped))
    if result.judgements:
        summary.update(judge_summary(records, result))
    keyword_rows = [r for r in records if any(k.startswith("keyword_") for k in r)]
    if keyword_rows:
        summary["keyword_queries"] = len(keyword_rows)
    return {"summary": summary, "metrics": metrics, "breakdowns": breakdowns(records, result)}


def breakdowns(records: Sequence[dict[str, Any]], result: PipelineResult) -> dict[str, Any]:
    """Mean of every metric per value of each of the suite's breakdown keys (e.g. question type)."""
    names = metric_names(records)
    out: dict[str, Any] = {}
    for key in result.breakdown_keys:
        groups: dict[str, list[dict[str, Any]]] = {}
        for query, record in zip(result.queries, records):
            groups.setdefault(str(query.metadata.get(key)), []).append(record)
        if len(groups) < 2 and "None" in groups:
            continue
        out[key] = {
            value: {"n": len(rows), **{m: float(np.mean(v)) for m in names if (v := [r[m] for r in rows if r.get(m) is not None])}}
            for value, rows in sorted(groups.items())
        }
    return out
