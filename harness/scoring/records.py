"""Records (one row per query) and their aggregates, from a pipeline result and the run's metric families.

A row holds the query, its gold and its ranking; then each "retrieval" family's columns; then the answer
(text, tokens, latency, error); then each "answer" family's columns. A family computes its columns only
where the query has the gold it needs, so a query without it is counted as unscored, never as a miss. A
generation that failed is kept as a row with its error and no answer score; it is counted in
``generation_errors`` and ``answer_valid`` instead of being scored as right or wrong. A question another system's
outputs leave unanswered is not a failure of ours: it scores as an empty answer (0 on every answer metric its gold
allows, the worst value on every judged column), flagged ``answer_missing`` and counted in ``answers_missing``, so
it never leaves a denominator; ``outputs.missing_answers=exclude`` scores answered questions only (counted too).
"""

from __future__ import annotations

import dataclasses
import json
import math
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ragsweep.errors import ConfigError, ContractError, RagsweepError
from ragsweep.hashing import canonical_json
from ragsweep.metrics.aggregate import summarize
from ragsweep.paths import CONFIG_DIR
from ragsweep.registry import METRICS
from ragsweep.scoring.base import PHASES, Metric, QueryView
from ragsweep.types import MISSING_ANSWER, Chunk, Generation, PipelineResult

# The answer's numbers in a record: facts about the generation, never averaged as metrics.
GENERATION_NUMBERS = ("prompt_tokens", "completion_tokens", "latency_s", "context_dropped", "ttft_s", "cached_prompt_tokens")


def build_metrics(scoring: dict[str, Any]) -> list[Metric]:
    """The families a scoring config lists (``metrics: {key: {name | _target_, params...}}``), in its order;
    ``null`` drops a family a preset listed."""
    families = scoring.get("metrics")
    if not isinstance(families, dict) or not families:
        raise ConfigError("scoring.metrics must map a key to each metric family's config (configs/scoring/default.yaml)")
    built = []
    for key, config in families.items():
        if config is None:
            continue
        if not isinstance(config, dict):
            raise ConfigError(f"scoring.metrics.{key} must be a mapping with a name or _target_, got {config!r}")
        metric = METRICS.build(config)
        if not isinstance(metric, Metric) or metric.phase not in PHASES:
            raise ConfigError(f"scoring.metrics.{key}: {type(metric).__name__} is not a ragsweep.scoring.base.Metric with a phase in {PHASES}")
        built.append(metric)
    if not built:
        raise ConfigError("every metric family is switched off (scoring.metrics.* = null): a run would score nothing; keep at least one")
    return built


def headline_metrics(families: Sequence[Metric], result: PipelineResult) -> list[str]:
    """What the leaderboard shows and the gate tracks by default: the families' headline columns, then the
    judged columns the judge's rubrics mark as headline."""
    return list(dict.fromkeys([*(n for f in families for n in f.headline()), *result.headline_extra]))


@lru_cache(maxsize=1)
def default_headline_metrics() -> tuple[str, ...]:
    """The headline metrics of the default scoring config's families: what a run written before runs recorded
    their own (metrics.json ``headline_metrics``) is shown and gated by."""
    from omegaconf import OmegaConf

    config = OmegaConf.merge(OmegaConf.load(CONFIG_DIR / "config.yaml"), {"scoring": OmegaConf.load(CONFIG_DIR / "scoring" / "default.yaml")})
    families = build_metrics(OmegaConf.to_container(config.scoring, resolve=True))  # type: ignore[arg-type]
    return tuple(dict.fromkeys(n for f in families for n in f.headline()))


def headline_names(metrics: dict[str, Any], own: bool = True) -> list[str]:
    """A run's headline metrics, in order: the suite's own headline (with ``own``), then the headline columns of
    its metric families and judge rubrics (metrics.json ``headline_metrics``)."""
    names = ((metrics.get("headline"),) if own else ()) + tuple(metrics.get("headline_metrics") or default_headline_metrics())
    return list(dict.fromkeys(n for n in names if n))


def lower_is_better(families: Sequence[Metric], result: PipelineResult) -> list[str]:
    return sorted({*(n for f in families for n in f.lower_is_better()), *result.lower_is_better})


MISSING_POLICIES = ("zero", "exclude")


def build_records(result: PipelineResult, families: Sequence[Metric], invalid_policy: str = "exclude",
                  missing_answers: str = "zero") -> list[dict[str, Any]]:
    """One row per query; ``missing_answers`` says how a question unanswered by another system's outputs scores."""
    if missing_answers not in MISSING_POLICIES:
        raise ConfigError(f"outputs.missing_answers must be one of {', '.join(MISSING_POLICIES)}, not {missing_answers!r}")
    by_id = {c.chunk_id: c for c in result.chunks}
    by_doc: dict[str, list[Chunk]] = {}
    for c in result.chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    retrieved = {r.query_id: r for r in result.retrieved}
    reranked = {r.query_id: r for r in result.reranked}
    selected = {r.query_id: r for r in result.selected}
    brackets = {kind: {g.query_id: g for g in gens} for kind, gens in result.bracket_generations.items()}
    generations = {g.query_id: g for g in result.generations}
    judgements = {j["query_id"]: j for j in result.judgements}
    assessments = {a["query_id"]: a for a in result.assessments}
    doc_sections = {d.doc_id: d.metadata["sections"] for d in result.documents if d.metadata.get("sections")}
    records = []
    for q in result.queries:
        final = reranked[q.query_id]
        ranked = [by_id[cid] for cid in final.chunk_ids]
        gold_docs = {s.doc_id for s in q.gold_spans}
        view = QueryView(
            query=q, ranked=ranked, retrieved=[by_id[cid] for cid in retrieved[q.query_id].chunk_ids], reranked=final is not retrieved[q.query_id],
            gold_doc_chunks=[c for d in sorted(gold_docs) for c in by_doc.get(d, [])], by_id=by_id, doc_sections=doc_sections,
            generation=generations.get(q.query_id), judgement=judgements.get(q.query_id), language=result.language, invalid_policy=invalid_policy,
            assessment=assessments.get(q.query_id),
            selected=[by_id[cid] for cid in selected[q.query_id].chunk_ids] if q.query_id in selected else None,
        )
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
            **({"selected_chunk_ids": list(selected[q.query_id].chunk_ids)} if q.query_id in selected else {}),
        }
        owners: dict[str, Metric] = {}  # column -> the family that wrote it in this row
        for family in families:
            if family.phase == "retrieval":
                row.update(checked_columns(family, view, owners))
        gen = view.generation
        missing = gen is not None and gen.error == MISSING_ANSWER
        if missing and missing_answers == "zero":  # the answer families score the empty answer it stands for
            view = dataclasses.replace(view, generation=dataclasses.replace(gen, error=None))
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
                ttft_s=gen.ttft_s,
                cached_prompt_tokens=gen.cached_prompt_tokens,
            )
            if missing:
                row["answer_missing"] = True
        for family in families:
            if family.phase == "answer":
                row.update(checked_columns(family, view, owners))
        row.update(bracket_columns(brackets, families, view))
        if missing and missing_answers == "zero":  # the judge never saw an answer: its columns score their worst
            for column in result.column_judges:
                if row.get(column) is None:
                    row[column] = 1.0 if column in result.lower_is_better else 0.0
        records.append(row)
    return records


RESERVED_COLUMNS = ("query_id", "question", "answers", "gold_doc_ids", "gold_spans", "metadata", "retrieved_chunk_ids", "retrieved_scores",
                    "ranked_chunk_ids", "ranked_scores", "ranked_chunks", "selected_chunk_ids", "answer", "context_chunk_ids", *GENERATION_NUMBERS,
                    "generation_error", "answer_truncated", "answer_missing")


def _class_name(family: Metric) -> str:
    return f"{type(family).__module__}.{type(family).__qualname__}"


def bracket_columns(brackets: dict[str, dict[str, Generation]], families: Sequence[Metric], view: QueryView) -> dict[str, Any]:
    """Each bracket's answer (``brackets``: bracket -> query id -> answer) scored by the families that read only the
    answer and the gold (``bracketed``), as ``<bracket>_<column>``: ``oracle_answer_f1`` beside the run's own ``answer_f1``."""
    out: dict[str, Any] = {}
    for kind, generations in brackets.items():
        gen = generations.get(view.query.query_id)
        if gen is None:
            continue
        answered = dataclasses.replace(view, generation=gen, judgement=None, assessment=None)
        owners: dict[str, Metric] = {}
        for family in families:
            if family.bracketed:
                out.update({f"{kind}_{column}": value for column, value in checked_columns(family, answered, owners).items()
                            if column not in family.info_columns})
    return out


def checked_columns(family: Metric, view: QueryView, owners: dict[str, Metric]) -> dict[str, Any]:
    """A family's columns for one query, held to the metric contract as a component's outputs are: a mapping of
    column names to values, no column of the record (RESERVED_COLUMNS) or of another family (``owners``: column ->
    the family that wrote it in this row; this family's columns are added), no NaN or infinite number (a query a
    metric cannot score is left out of its columns). A break is one line naming the metric class, the query and the
    rule."""
    name, qid = _class_name(family), view.query.query_id
    where = f"metric {name}: query {qid!r}"
    try:
        columns = family.columns(view)
    except RagsweepError:  # the family's own one-line refusal (a switch its data cannot serve)
        raise
    except Exception as err:  # noqa: BLE001 - an extension's failure becomes one line naming it
        raise ContractError(f"{where}: columns() raised {type(err).__name__}: {err}") from None
    if not isinstance(columns, dict):
        raise ContractError(f"{where}: columns() returned {type(columns).__name__}, not a mapping of column name to value ({{}} for none)")
    for column, value in columns.items():
        if not isinstance(column, str) or not column.strip():
            raise ContractError(f"{where}: column name {column!r} is not a non-empty string")
        if column in RESERVED_COLUMNS or owners.get(column, family) is not family:
            owner = "the record itself (a reserved column)" if column in RESERVED_COLUMNS else f"metric {_class_name(owners[column])}"
            raise ContractError(f"{where}: column {column!r} is already written by {owner}: give the metric's column another name")
        if isinstance(value, float) and not math.isfinite(value):
            raise ContractError(f"{where}: column {column!r} is {value}: leave the column out for a query the metric cannot score")
        owners[column] = family
    return columns


def metric_names(records: Sequence[dict[str, Any]], families: Sequence[Metric]) -> list[str]:
    """Every float column that is a metric: not an answer's number, not a family's information column."""
    skip = {*GENERATION_NUMBERS, *(c for f in families for c in f.info_columns)}
    names: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if isinstance(v, float) and k not in skip:
                names.setdefault(k)
    return list(names)


def serving_summary(gens: Sequence[Any]) -> dict[str, Any]:
    """What the answers cost to serve, where the backend reported it (else None): the mean time to first token, and
    the prefix-cache hit rate, prompt tokens served from the cache over all prompt tokens (Cache-Craft's concern:
    a sweep's RAG prompts share long prefixes, and configurations differ in how much of that they can reuse)."""
    ttft = [g.ttft_s for g in gens if g.ttft_s is not None]
    cached = [(g.cached_prompt_tokens, g.prompt_tokens) for g in gens if g.cached_prompt_tokens is not None]
    prompt = sum(p for _, p in cached)
    return {
        "mean_ttft_s": float(np.mean(ttft)) if ttft else None,
        "prefix_cache_hit_rate": sum(c for c, _ in cached) / prompt if prompt else None,
    }


def generation_summary(result: PipelineResult, records: Sequence[dict[str, Any]], prices: dict[str, float]) -> dict[str, Any]:
    """Errors, validity, tokens, throughput (completion tokens per second of generation time), serving cost and
    price."""
    gens = result.generations
    answerable = [r for r in records if r["answers"]]
    prompt_tokens = int(sum(g.prompt_tokens for g in gens))
    completion_tokens = int(sum(g.completion_tokens for g in gens))
    busy_s = float(sum(g.latency_s for g in gens))
    return {
        "generation_errors": sum(1 for g in gens if g.error and g.error != MISSING_ANSWER),
        "answers_missing": sum(1 for g in gens if g.error == MISSING_ANSWER),
        "answers_truncated": sum(1 for g in gens if g.truncated),
        "answer_valid": (sum(1 for r in answerable if "answer_em" in r) / len(answerable)) if answerable else None,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "mean_latency_s": float(np.mean([g.latency_s for g in gens])),
        "completion_tokens_per_s": completion_tokens / busy_s if busy_s > 0 else None,
        "context_chunks_dropped": int(sum(g.context_dropped for g in gens)),
        "cost_usd": cost_usd(prompt_tokens, completion_tokens, prices),
        **serving_summary(gens),
    }


def cost_usd(prompt_tokens: int, completion_tokens: int, prices: dict[str, float]) -> float:
    """USD at ``pricing.<model>`` (``input_per_mtok``, ``output_per_mtok``: per million tokens; a missing price is 0)."""
    return (prompt_tokens * prices.get("input_per_mtok", 0.0) + completion_tokens * prices.get("output_per_mtok", 0.0)) / 1e6


def aggregate(
    records: Sequence[dict[str, Any]], result: PipelineResult, families: Sequence[Metric], seed: int, prices: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Macro mean over queries with a bootstrap CI per metric, plus run-level counts and each family's summary."""
    names = metric_names(records, families)
    metrics = {name: summarize([r[name] for r in records if r.get(name) is not None], seed=seed) for name in names}
    chunk_lengths = np.array([c.end - c.start for c in result.chunks], dtype=float)
    summary: dict[str, Any] = {
        "n_queries": len(records),
        "n_documents": len(result.documents),
        "n_chunks": len(result.chunks),
        "mean_chunk_chars": float(chunk_lengths.mean()) if chunk_lengths.size else 0.0,
        "chunking_wall_s": result.chunking_wall_s,
    }
    if result.generations:
        summary.update(generation_summary(result, records, prices or {}))
    for family in families:
        summary.update(family.summary(records, result))
    return {"summary": summary, "metrics": metrics, "breakdowns": breakdowns(records, result, names)}


def breakdowns(records: Sequence[dict[str, Any]], result: PipelineResult, names: Sequence[str]) -> dict[str, Any]:
    """Mean of every metric per value of each of the suite's breakdown keys (e.g. question type)."""
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
