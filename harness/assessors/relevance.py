"""Which chunks the gold decides, and reading an assessor's 0-3 relevance grade.

The gold decides a chunk when (in this order) the query carries graded document labels (a TREC qrels file
imported as gold) and the chunk's document is labelled: that grade; the chunk overlaps a gold character span:
``gold_grade``; the query has gold documents but no spans and the chunk belongs to one: ``gold_grade``; the suite
is declared fully judged (every relevant passage is gold) and the chunk's document holds no gold: 0. Any other
chunk is undecided: only an LLM label can say how relevant it is.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ragsweep.metrics.judge import parse_json_object
from ragsweep.types import Chunk, Query

GRADES = (0, 1, 2, 3)
_FINAL_SCORE = re.compile(r"^\s*#*\s*final\s+score\s*:\s*([0-3])\s*$", re.IGNORECASE)


def gold_label(chunk: Chunk, query: Query, fully_judged: bool, gold_grade: int) -> tuple[int, str] | None:
    """(grade, source) where the gold decides ``chunk`` for ``query`` (source "qrels" or "gold"), else None."""
    grades = dict(query.gold_doc_grades)
    if grades and chunk.doc_id in grades:
        return int(grades[chunk.doc_id]), "qrels"
    if any(s.doc_id == chunk.doc_id and s.start < chunk.end and chunk.start < s.end for s in query.gold_spans):
        return gold_grade, "gold"
    if not query.gold_spans and chunk.doc_id in query.gold_doc_ids and not grades:
        return gold_grade, "gold"
    gold_docs = {s.doc_id for s in query.gold_spans} | set(query.gold_doc_ids) | set(grades)
    if fully_judged and gold_docs and chunk.doc_id not in gold_docs:
        return 0, "gold"
    return None


def gold_positive_chunks(query: Query, chunks_of_doc: dict[str, list[Chunk]], gold_grade: int) -> Iterable[tuple[Chunk, int, str]]:
    """Every chunk of the chunking the gold labels above 0, ranked or not: they make the ideal ordering of nDCG."""
    docs = {s.doc_id for s in query.gold_spans} | set(query.gold_doc_ids) | {d for d, _ in query.gold_doc_grades}
    for doc_id in sorted(docs):
        for chunk in chunks_of_doc.get(doc_id, ()):
            decided = gold_label(chunk, query, False, gold_grade)
            if decided and decided[0] > 0:
                yield chunk, decided[0], decided[1]


def read_grade(reply: str) -> int | None:
    """A 0-3 grade from ``{"score": n}``, a reply that is exactly ``##final score: n`` (UMBRELA's answer format) or
    exactly one digit; anything else (prose, two numbers, a grade off the scale) is unreadable."""
    text = reply.strip()
    obj: Any = parse_json_object(text)
    if obj is not None:
        value = obj.get("score")
        return value if isinstance(value, int) and not isinstance(value, bool) and value in GRADES else None
    match = _FINAL_SCORE.match(text)
    if match:
        return int(match.group(1))
    return int(text) if text in {"0", "1", "2", "3"} else None
