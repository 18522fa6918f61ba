"""Recursive splitting on a list of separators (LangChain's RecursiveCharacterTextSplitter, as Chroma's
RecursiveTokenChunker uses it: separators kept, whitespace stripped, length in characters or tokens).

The algorithm runs on character ranges of the original text. Separators stay attached to the piece
that follows them (keep_separator=True), so every merged chunk is one contiguous slice of the document
and its offsets are exact.
"""

from __future__ import annotations

import re
from typing import Callable

from ragsweep.chunkers.base import Chunker
from ragsweep.errors import ConfigError
from ragsweep.registry import CHUNKERS
from ragsweep.text import strip_span, tiktoken_encoding
from ragsweep.types import Document

Range = tuple[int, int]
DEFAULT_SEPARATORS = ("\n\n", "\n", ".", "?", "!", " ", "")


@CHUNKERS.register("recursive")
class RecursiveChunker(Chunker):
    label_params = ("size", "overlap", "length")

    def __init__(
        self,
        size: int = 800,
        overlap: int = 0,
        separators: list[str] | tuple[str, ...] = DEFAULT_SEPARATORS,
        length: str = "chars",
        encoding: str = "cl100k_base",
    ):
        if size <= 0 or not 0 <= overlap < size:
            raise ConfigError(f"recursive needs size > 0 and 0 <= overlap < size, got {size}/{overlap}")
        if length not in {"chars", "tokens"}:
            raise ConfigError(f"recursive length must be 'chars' or 'tokens', got {length!r}")
        self.size, self.overlap, self.separators = size, overlap, tuple(separators)
        self.length, self.encoding = length, encoding

    def _length_fn(self, text: str) -> Callable[[Range], int]:
        if self.length == "chars":
            return lambda r: r[1] - r[0]
        enc = tiktoken_encoding(self.encoding)
        return lambda r: len(enc.encode(text[r[0] : r[1]], disallowed_special=()))

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        length = self._length_fn(doc.text)
        return self._split(doc.text, (0, len(doc.text)), self.separators, length)

    def _split(self, text: str, rng: Range, separators: tuple[str, ...], length: Callable[[Range], int]) -> list[Range]:
        separator, rest = separators[-1], ()
        for i, sep in enumerate(separators):
            if sep == "":
                separator = sep
                break
            if text.find(sep, rng[0], rng[1]) != -1:
                separator, rest = sep, separators[i + 1 :]
                break
        out: list[Range] = []
        good: list[Range] = []
        for piece in _split_keep(text, rng, separator):
            if length(piece) < self.size:
                good.append(piece)
                continue
            if good:
                out.extend(self._merge(text, good, length))
                good = []
            out.extend(self._split(text, piece, rest, length) if rest else [piece])
        if good:
            out.extend(self._merge(text, good, length))
        return out

    def _merge(self, text: str, pieces: list[Range], length: Callable[[Range], int]) -> list[Range]:
        out: list[Range] = []
        current: list[Range] = []
        total = 0
        for piece in pieces:
            n = length(piece)
            if total + n > self.size and current:
                out.append(strip_span(text, current[0][0], current[-1][1]))
                while total > self.overlap or (total + n > self.size and total > 0):
                    total -= length(current.pop(0))
            current.append(piece)
            total += n
        if current:
            out.append(strip_span(text, current[0][0], current[-1][1]))
        return [r for r in out if r[1] > r[0]]


def _split_keep(text: str, rng: Range, separator: str) -> list[Range]:
    """Split ``text[rng]`` before each occurrence of ``separator``; "" splits into characters."""
    start, end = rng
    if separator == "":
        return [(i, i + 1) for i in range(start, end)]
    cuts = [m.start() for m in re.finditer(re.escape(separator), text[start:end]) if m.start() > 0]
    bounds = [start] + [start + c for c in cuts] + [end]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
