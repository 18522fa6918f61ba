"""Write CoFE-RAG keyword annotations for a suite with an LLM (docs/metrics.md#keyword-coverage), once, to a
versioned file that later runs read through the task's ``keywords:`` key (tasks/keyword_file.py).

The evidence is the query's gold spans (or, without spans, its gold documents). Keywords must be
fragments of that evidence: any the model invents (not found after CoFE-RAG's normalisation) are
dropped and counted, and a query whose reply is unreadable or keeps no coarse or fine keyword gets no
entry (it is then skipped by the metric, as the reference skips queries with empty lists). The file
records the model, the prompt's hash and these counts.

Usage: ragsweep keywords task=<suite> [keywords.out=<file>] [annotator.model=<id>]
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from ragsweep.paths import CONFIG_DIR
from ragsweep.hashing import sha256_json
from ragsweep.llm.base import build_backend
from ragsweep.llm.prompting import render
from ragsweep.engine.pipeline import plain_config
from ragsweep.tasks.base import build_task
from ragsweep.store.results import write_json
from ragsweep.types import Document, Query
from ragsweep.metrics.judge import parse_json_object
from ragsweep.metrics.keywords import clean_text
from ragsweep.tasks.keyword_file import FORMAT, VERSION, split_task_config

log = logging.getLogger("ragsweep.annotate.keywords")


def evidence_text(query: Query, documents: dict[str, Document], max_chars: int) -> str:
    if query.gold_spans:
        text = "\n".join(documents[s.doc_id].text[s.start : s.end] for s in query.gold_spans if s.doc_id in documents)
    else:
        text = "\n".join(documents[d].text for d in query.gold_doc_ids if d in documents)
    return text[:max_chars]


def grounded_keywords(reply: dict[str, Any] | None, evidence: str) -> tuple[list[str], list[list[str]], int] | None:
    """(coarse, fine groups, keywords dropped as not in the evidence); None if the reply has no usable lists."""
    if not reply or not isinstance(reply.get("coarse_keywords"), list) or not isinstance(reply.get("fine_keywords"), list):
        return None
    pool = clean_text(evidence)
    dropped = 0

    def keep(words: list[Any]) -> list[str]:
        nonlocal dropped
        kept = [w.strip() for w in words if isinstance(w, str) and clean_text(w) and clean_text(w) in pool]
        dropped += len(words) - len(kept)
        return kept

    flat = [w for item in reply["coarse_keywords"] for w in (item if isinstance(item, list) else [item])]
    coarse = keep(flat)
    fine = [g for g in (keep(group if isinstance(group, list) else [group]) for group in reply["fine_keywords"]) if g]
    return coarse, fine, dropped


def annotate(cfg: dict[str, Any]) -> dict[str, Any]:
    documents, queries = build_task(split_task_config(cfg["task"]).own).checked_load()
    by_id = {d.doc_id: d for d in documents}
    prompt = cfg["keywords"]["prompt"]
    todo = [(q, ev) for q in queries if (ev := evidence_text(q, by_id, cfg["keywords"]["max_evidence_chars"]))]
    conversations = [render(prompt, question=q.question, evidence=ev) for q, ev in todo]
    schema = {
        "type": "object",
        "properties": {"coarse_keywords": {"type": "array", "items": {"type": "string"}},
                       "fine_keywords": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}},
        "required": ["coarse_keywords", "fine_keywords"],
    }
    completions = build_backend(cfg["annotator"]).complete(conversations, json_schema=schema, desc="keywords")
    entries, counts = {}, {"queries": len(queries), "without_evidence": len(queries) - len(todo), "failed_calls": 0,
                           "unreadable": 0, "empty_after_grounding": 0, "keywords_dropped_not_in_evidence": 0}
    for (q, ev), c in zip(todo, completions):
        if c.error:
            counts["failed_calls"] += 1
            continue
        grounded = grounded_keywords(parse_json_object(c.text), ev)
        if grounded is None:
            counts["unreadable"] += 1
            continue
        coarse, fine, dropped = grounded
        counts["keywords_dropped_not_in_evidence"] += dropped
        if not coarse or not fine:
            counts["empty_after_grounding"] += 1
            continue
        entries[q.query_id] = {"coarse_keywords": coarse, "fine_keywords": fine}
    counts["annotated"] = len(entries)
    return {
        "format": FORMAT, "version": VERSION, "task": cfg["task"]["name"], "task_path": str(cfg["task"].get("path")),
        "model": cfg["annotator"]["model"], "backend": cfg["annotator"]["backend"],
        "prompt_version": prompt["version"], "prompt_sha256": sha256_json(prompt), "counts": counts, "queries": entries,
    }


@hydra.main(config_path=str(CONFIG_DIR), config_name="keywords", version_base="1.3")
def main(cfg: DictConfig) -> None:
    plain = plain_config(cfg)
    result = annotate(plain)
    out = Path(plain["keywords"]["out"])
    write_json(out, result)
    log.info("keywords for %d of %d queries -> %s (%s)", result["counts"]["annotated"], result["counts"]["queries"], out, result["counts"])
