"""CoFE-RAG keyword recall and accuracy over retrieved contexts (docs/metrics.md#keyword-coverage, `find_gold`).

Text and keywords are normalised by deleting every character that is not a word character or CJK
(so all punctuation and all whitespace go: "New York" -> "NewYork"), then "一一" -> "一"; a keyword
matches when it is a case-insensitive substring of the normalised text.

Defaults (the correct reading): a query without coarse or fine keywords is not scored (None: callers count
it, it never enters a mean); an empty group is ignored; a flat list of fine keywords is one group per
keyword. ``reference_compat=True`` scores as the reference script does (docs/metrics.md#keyword-coverage): a query with
empty coarse or fine keywords is a miss (0, 0) that stays in the denominator, an empty group counts as hit,
and a flat fine list (``flat=True``) gets recall 0 while accuracy still works.
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


def keyword_scores(
    chunk_texts: Sequence[str], coarse: Sequence[str], fine: Sequence[Sequence[str]], reference_compat: bool = False, flat: bool = False
) -> KeywordScores | None:
    """Scores over the given (already top-k) chunks; None when the query has no coarse or no fine keywords
    (with ``reference_compat``: a miss, 0 and 0)."""
    groups = as_groups(fine) if reference_compat else [g for g in as_groups(fine) if g]
    if not coarse or not groups:
        return KeywordScores(0.0, 0.0) if reference_compat else None
    coarse_clean = [clean_text(k) for k in coarse]
    kept = [t for t in (clean_text(c) for c in chunk_texts) if any(k in t for k in coarse_clean)]
    pool = "".join(kept)
    hits = [all(clean_text(k) in pool for k in g) for g in groups]
    recall = 0.0 if reference_compat and flat else sum(hits) / len(groups)
    return KeywordScores(recall=recall, accuracy=float(all(hits)))
