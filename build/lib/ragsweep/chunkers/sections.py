"""One chunk per statute section (NitiBench's section-based, "hierarchy-aware" chunking).

Needs documents whose ``metadata["sections"]`` lists ``[section number, start, end]`` ranges, as the
nitibench loader builds them; each chunk's metadata carries its law and section number.
"""

from __future__ import annotations

from typing import Iterable

from ragsweep.chunkers.base import Chunker
from ragsweep.errors import ConfigError
from ragsweep.registry import CHUNKERS
from ragsweep.types import Chunk, Document, make_chunk


@CHUNKERS.register("sections")
class SectionChunker(Chunker):
    def spans(self, doc: Document) -> list[tuple[int, int]]:
        return [(start, end) for _, start, end in self._sections(doc)]

    @staticmethod
    def _sections(doc: Document) -> list[list]:
        sections = doc.metadata.get("sections")
        if not sections:
            raise ConfigError(f"chunker=sections needs documents with section ranges (a nitibench suite); {doc.doc_id!r} has none")
        return sections

    def chunk(self, docs: Iterable[Document], progress: bool = True) -> list[Chunk]:
        return [
            make_chunk(doc, start, end, i, law=doc.doc_id, section=num)
            for doc in docs
            for i, (num, start, end) in enumerate(self._sections(doc))
        ]
