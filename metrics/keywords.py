"""CoFE-RAG keyword recall and accuracy over retrieved contexts (metrics-reference 2.2, `find_gold`).

Text and keywords are normalised by deleting every character that is not a word character or CJK
(so all punctuation and all whitespace go: "New York" -> "NewYork"), then "一一" -> "一"; a keyword
matches when it is a case-insensitive substring of the normalised text. A flat list of fine keywords
is read as one group per keyword (the reference code scores such input 0 by accident).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

# \w already covers CJK in Python's Unicode regexes; the explicit range mirrors the reference.
_NOT_KEPT = re.compile(r"[^\w\u4e00-\u9fa5]+")


def clean_text(text: str) -> str:
    return _NOT_KEPT.sub("", text).replace("一一", "一").lower()


def as_groups(fine: Sequence[Sequence[str]] | Sequence[str]) -> list[list[str]]:
    return [[g] if isinstance(g, str) else list(g) for g in fine]


@dataclass(frozen=True)
class KeywordScores:
    recall: float  # fraction of fine keyword groups fully found (code `hit_score`)
    accuracy: float  # 1 iff every fine keyword is found (code `top_hit`)


def keyword_scores(chunk_texts: Sequence[str], coarse: Sequence[str], fine: Sequence[Sequence[str]]) -> KeywordScores | None:
    """Scores over the given (already top-k) chunks; None when the query has no coarse or no fine
    keywords (the reference skips such queries: they are not in the denominator)."""
    groups = [g for g in as_groups(fine) if g]
    if not coarse or not groups:
        return None
    coarse_clean = [clean_text(k) for k in coarse]
    kept = [t for t in (clean_text(c) for c in chunk_texts) if any(k in t for k in coarse_clean)]
    pool = "".join(kept)
    hits = [all(clean_text(k) in pool for k in g) for g in groups]
    return KeywordScores(recall=sum(hits) / len(groups), accuracy=float(all(hits)))
