"""Nuggets tied to evidence, and reading the assessor's replies about them.

A query's evidence is its gold (each gold character span with its text; each gold document where the gold has
no spans), or, where it has none, the chunks judged relevant for it. Nuggets are made from one evidence item at a
time, so every nugget keeps the span it came from: a nugget the answer misses is then the retriever's miss when
none of its evidence reached the generator, and the generator's when it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ragsweep.metrics.judge import parse_json_object
from ragsweep.metrics.trec import ASSIGNMENTS, IMPORTANCE
from ragsweep.types import Chunk, Document, Query, Span

EVIDENCE_CHARS = 2000  # the longest evidence text shown when a nugget is made (a whole gold document is cut)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.+?)\s*$")


@dataclass(frozen=True)
class Evidence:
    span: Span
    text: str

    def to_list(self) -> list[Any]:
        return [self.span.doc_id, self.span.start, self.span.end]


def gold_evidence(query: Query, documents: dict[str, Document]) -> list[Evidence]:
    """Each gold span with its text; each gold document (its opening ``EVIDENCE_CHARS``) where there are no spans."""
    if query.gold_spans:
        return [Evidence(s, documents[s.doc_id].text[s.start : s.end]) for s in query.gold_spans if s.doc_id in documents]
    docs = list(query.gold_doc_ids) or [d for d, g in query.gold_doc_grades if g > 0]
    return [Evidence(Span(d, 0, len(documents[d].text)), documents[d].text[:EVIDENCE_CHARS]) for d in docs if d in documents]


def chunk_evidence(chunks: Sequence[Chunk]) -> list[Evidence]:
    return [Evidence(Span(c.doc_id, c.start, c.end), c.text[:EVIDENCE_CHARS]) for c in chunks]


def shown(evidence: Sequence[Sequence[Any]], context: Sequence[Chunk]) -> bool:
    """Whether any context chunk overlaps any of a nugget's evidence spans ([doc, start, end])."""
    return any(c.doc_id == d and c.start < e and s < c.end for d, s, e in evidence for c in context)


def read_nuggets(reply: str, limit: int) -> list[str] | None:
    """Nugget texts from ``{"nuggets": [str, ...]}`` or from a bulleted / numbered list (one per line); None when
    the reply holds none. At most ``limit``, repeated texts once."""
    obj = parse_json_object(reply)
    if obj is not None:
        items = obj.get("nuggets")
        texts = [t.strip() for t in items if isinstance(t, str)] if isinstance(items, list) else []
    else:
        texts = [m.group(1) for m in map(_BULLET.match, reply.splitlines()) if m]
    texts = list(dict.fromkeys(t for t in texts if t))[:limit]
    return texts or None


def _label(reply: str, field: str, allowed: Sequence[str]) -> str | None:
    obj = parse_json_object(reply)
    value = obj.get(field) if obj is not None else reply.strip()
    value = value.strip().lower() if isinstance(value, str) else None  # "Vital", "SUPPORT": the reference lowercases too
    return value if value in allowed else None


def read_importance(reply: str) -> str | None:
    """``{"importance": "vital" | "okay"}`` or exactly the label."""
    return _label(reply, "importance", IMPORTANCE)


def read_assignment(reply: str) -> str | None:
    """``{"label": "support" | "partial_support" | "not_support"}`` or exactly the label."""
    return _label(reply, "label", ASSIGNMENTS)
