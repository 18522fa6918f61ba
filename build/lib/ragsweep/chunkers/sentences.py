"""N sentences per chunk (Jadon et al.'s SentenceChunker groups 5, 10, 15 or 20 sentences; its sentence
boundary is ``splitter=jadon``). A chunk is the document range from its first sentence's start to its last
sentence's end."""

from __future__ import annotations

from ragsweep.chunkers.base import Chunker
from ragsweep.errors import ConfigError
from ragsweep.registry import CHUNKERS
from ragsweep.text import check_splitter, sentence_spans
from ragsweep.types import Document


@CHUNKERS.register("sentences")
class SentenceGroupChunker(Chunker):
    version = "2"  # Thai sentences from pythainlp crfcut instead of whitespace runs
    label_params = ("sentences_per_chunk", "overlap", "splitter")

    def __init__(self, sentences_per_chunk: int = 5, overlap: int = 0, language: str = "en", splitter: str = "default"):
        if sentences_per_chunk <= 0 or not 0 <= overlap < sentences_per_chunk:
            raise ConfigError("sentences needs sentences_per_chunk > 0 and 0 <= overlap < sentences_per_chunk")
        self.n, self.overlap, self.language = sentences_per_chunk, overlap, language
        self.splitter = check_splitter(splitter, language)

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        sents = sentence_spans(doc.text, self.language, self.splitter)  # type: ignore[arg-type]
        out = []
        for i in range(0, len(sents), self.n - self.overlap):
            group = sents[i : i + self.n]
            out.append((group[0][0], group[-1][1]))
            if i + self.n >= len(sents):
                break
        return out
