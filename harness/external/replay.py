"""External outputs as the pipeline's chunks, rankings and answers, so every metric the suite's gold allows, the
judge and the assessor score them as they score ragsweep's own runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ragsweep.external.readers import ExternalOutput, Passage
from ragsweep.types import MISSING_ANSWER, Chunk, Document, Generation, Query, Retrieved



def passage_id(p: Passage) -> str:
    return f"{p.doc_id}#{p.start}-{p.end}"


def label(cfg: dict[str, Any]) -> str:
    """What the leaderboard calls the system: ``outputs.name``, else the file's name without its suffix."""
    return str(cfg.get("name") or Path(str(cfg["path"])).stem)


def replay(outputs: list[ExternalOutput], queries: list[Query], documents: list[Document]) -> tuple[list[Chunk], list[Retrieved], list[Generation] | None, dict[str, Any]]:
    """(chunks: every distinct passage, in corpus order; rankings per query, empty for a query the file does not
    cover; answers, or None when the file gives none; what was replayed, for run.json). A score the file does not
    give is minus the rank, so rankings stay best first."""
    order = {d.doc_id: i for i, d in enumerate(documents)}
    texts = {d.doc_id: d.text for d in documents}
    by_query = {o.query_id: o for o in outputs}
    distinct = sorted({(p.doc_id, p.start, p.end) for o in outputs for p in o.passages}, key=lambda s: (order[s[0]], s[1], s[2]))
    chunks = [Chunk(f"{d}#{s}-{e}", d, s, e, texts[d][s:e]) for d, s, e in distinct]
    retrieved = []
    for q in queries:
        o = by_query.get(q.query_id)
        passages = o.passages if o else ()
        retrieved.append(Retrieved(q.query_id, tuple(passage_id(p) for p in passages),
                                   tuple(p.score if p.score is not None else -float(rank) for rank, p in enumerate(passages, start=1))))
    answered = any(o.answer is not None for o in outputs)
    generations = None
    if answered:
        generations = []
        for q, r in zip(queries, retrieved):
            answer = by_query[q.query_id].answer if q.query_id in by_query else None
            generations.append(Generation(q.query_id, answer or "", r.chunk_ids, error=None if answer is not None else MISSING_ANSWER))
    located = Counter(p.located for o in outputs for p in o.passages)
    report = {
        "queries_with_output": len(outputs), "queries_without_output": len(queries) - len(outputs),
        "passages": sum(len(o.passages) for o in outputs), "distinct_passages": len(chunks),
        "answers": sum(1 for o in outputs if o.answer is not None), "passages_located_by": dict(sorted(located.items())),
    }
    return chunks, retrieved, generations, report
