"""Fixed-size windows of model tokens with overlap (Chroma's FixedTokenChunker / LangChain's
TokenTextSplitter): windows start every ``size - overlap`` tokens and stop once one reaches the end.

Chroma decodes each token window to text and searches for it in the corpus; we map token windows to
character offsets directly, so a chunk is always the exact corpus slice (no search, no ambiguity when a
chunk text occurs twice).
"""

from __future__ import annotations

from ragsweep.chunkers.base import Chunker
from ragsweep.errors import ConfigError
from ragsweep.registry import CHUNKERS
from ragsweep.text import token_starts
from ragsweep.types import Document


@CHUNKERS.register("fixed_tokens")
class FixedTokenChunker(Chunker):
    label_params = ("size", "overlap")

    def __init__(self, size: int = 400, overlap: int = 0, encoding: str = "cl100k_base"):
        if size <= 0 or not 0 <= overlap < size:
            raise ConfigError(f"fixed_tokens needs size > 0 and 0 <= overlap < size, got {size}/{overlap}")
        self.size, self.overlap, self.encoding = size, overlap, encoding

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        starts = token_starts(doc.text, self.encoding)
        n = len(starts)
        out: list[tuple[int, int]] = []
        first = 0
        while first < n:
            last = min(first + self.size, n)
            start = starts[first]
            end = starts[last] if last < n else len(doc.text)
            if end > start:
                out.append((start, end))
            if last == n:
                break
            first += self.size - self.overlap
        return out
