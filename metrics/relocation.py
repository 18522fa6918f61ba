"""Where the span-QA reference code places a chunk: it does not keep the chunk's document range, it looks the
chunk's text up again in the corpus (Chroma's ``rigorous_document_search``, which Jadon et al. score with). Pure
functions: text in, range out.

The search, in its order: drop one trailing ``.`` from the chunk text; the first exact occurrence; else the first
match of its words with any whitespace (or none) between them, ignoring case; else the corpus's pieces between
sentence ends (``[.!?]`` plus whitespace, or a newline) are compared with the chunk by fuzzywuzzy's
``token_sort_ratio`` (lower-cased, non-word characters made spaces, characters 128-255 dropped, tokens sorted, the
Levenshtein/Indel ratio rounded to a whole percent; ``token_sort_ratio`` below has the details): the first best
piece scoring at least 98 is placed at its
first occurrence. Otherwise the chunk is not found (the reference code then stops; ragsweep counts it and scores
it as an empty range).

So a chunk whose text repeats earlier in the corpus is placed at the earlier repeat, a chunk ending with ``.`` ends
one character early, and a chunk found only by the fallbacks may land elsewhere: exactly the misplacements the
published numbers carry. ragsweep's default keeps each chunk's exact range; this is the documented switch for
reproducing those numbers (``chunker.locate=reference``, ``span_chunk_ranges=reference``).
"""

from __future__ import annotations

import re

_SENTENCE_PIECES = re.compile(r"[.!?]\s*|\n")
_NON_WORD = re.compile(r"(?ui)\W")
_LATIN1_HIGH = {c: None for c in range(128, 256)}
FUZZY_THRESHOLD = 98


def _full_process(text: str, force_ascii: bool) -> str:
    if force_ascii:
        text = text.translate(_LATIN1_HIGH)
    return _NON_WORD.sub(" ", text).lower().strip()


def token_sort_ratio(query: str, choice: str) -> int:
    """fuzzywuzzy's ``token_sort_ratio`` as ``process.extractOne`` calls it: the query through extractOne's processor
    first (so a character 128-255 that is not a letter becomes a space), then both through the scorer's ascii
    processing (so in the choice it is dropped); equal prepared strings score 100 (two empty ones too), one empty
    string 0; else python-Levenshtein's ratio as a whole percent."""
    from rapidfuzz.fuzz import ratio

    def prepared(text: str) -> str:
        return " ".join(sorted(_full_process(text, True).split())).strip()

    x, y = prepared(_full_process(query, False)), prepared(choice)
    if x == y:
        return 100
    if not x or not y:
        return 0
    return int(round(ratio(x, y)))


def _despite_whitespace(document: str, target: str) -> tuple[int, int] | None:
    words = re.sub(r"\s+", " ", target).strip().split()
    if not words:
        return None
    match = re.compile(r"\s*".join(re.escape(w) for w in words), re.IGNORECASE).search(document)
    return (match.start(), match.end()) if match else None


def reference_search(document: str, target: str) -> tuple[int, int] | None:
    """The range the reference code gives ``target`` in ``document``, or None where it finds none."""
    if target.endswith("."):
        target = target[:-1]
    if target in document:
        start = document.find(target)
        return start, start + len(target)
    found = _despite_whitespace(document, target)
    if found is not None:
        return found
    pieces = _SENTENCE_PIECES.split(document)
    best, best_score = None, -1
    for piece in pieces:
        score = token_sort_ratio(target, piece)
        if score > best_score:
            best, best_score = piece, score
    if best is None or best_score < FUZZY_THRESHOLD:
        return None
    start = document.find(best)
    return start, start + len(best)
