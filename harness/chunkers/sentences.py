"""N sentences per chunk (Jadon et al.'s SentenceChunker groups 5, 10, 15 or 20 sentences; its sentence
boundary is ``splitter=jadon``). A chunk is the document range from its first sentence's start to its last
sentence's end.

``locate=reference`` (with ``splitter=jadon``) also records where Jadon et al.'s code would place each chunk: it
joins the chunk's sentences (the pieces of ``re.split`` on the boundary, as they are) with one space and looks that
text up in the document (ragsweep.metrics.relocation). The chunk keeps its exact range; the reference's range is
its metadata ``reference_range`` ([start, end], or null where the search finds nothing), which the span metrics use
under ``span_chunk_ranges=reference``. A last group of the reference made only of an empty piece (a document ending
in whitespace after its last sentence) is a chunk there and none here."""

from __future__ import annotations

from typing import Any

from ragsweep.chunkers.base import Chunker
from ragsweep.errors import ConfigError, ContractError
from ragsweep.metrics.relocation import reference_search
from ragsweep.registry import CHUNKERS
from ragsweep.text import check_splitter, jadon_pieces, sentence_spans
from ragsweep.types import Document


@CHUNKERS.register("sentences")
class SentenceGroupChunker(Chunker):
    version = "2"  # Thai sentences from pythainlp crfcut instead of whitespace runs
    label_params = ("sentences_per_chunk", "overlap", "splitter", "locate")

    def __init__(self, sentences_per_chunk: int = 5, overlap: int = 0, language: str = "en", splitter: str = "default", locate: str = "exact"):
        if sentences_per_chunk <= 0 or not 0 <= overlap < sentences_per_chunk:
            raise ConfigError("sentences needs sentences_per_chunk > 0 and 0 <= overlap < sentences_per_chunk")
        if locate not in ("exact", "reference"):
            raise ConfigError(f"chunker.locate must be exact or reference, not {locate!r}")
        if locate == "reference" and splitter != "jadon":
            raise ConfigError("chunker.locate=reference reproduces Jadon et al.'s relocation and needs chunker.splitter=jadon")
        self.n, self.overlap, self.language, self.locate = sentences_per_chunk, overlap, language, locate
        self.splitter = check_splitter(splitter, language)

    def _groups(self, items: list) -> list[list]:
        out = []
        for i in range(0, len(items), self.n - self.overlap):
            out.append(items[i : i + self.n])
            if i + self.n >= len(items):
                break
        return out

    def spans(self, doc: Document) -> list[tuple[int, int]] | list[tuple[int, int, dict[str, Any]]]:
        sents = sentence_spans(doc.text, self.language, self.splitter)  # type: ignore[arg-type]
        ranges = [(group[0][0], group[-1][1]) for group in self._groups(sents)]
        if self.locate == "exact":
            return ranges
        texts = [" ".join(g) for g in self._groups(jadon_pieces(doc.text))]
        if len(texts) == len(ranges) + 1 and not texts[-1].strip():
            texts.pop()  # the reference's trailing empty chunk
        if len(texts) != len(ranges):
            raise ContractError(f"document {doc.doc_id!r}: {len(texts)} reference chunks for {len(ranges)} chunks; cannot pair them")
        return [(s, e, {"reference_range": list(found) if (found := reference_search(doc.text, t)) else None}) for (s, e), t in zip(ranges, texts)]
