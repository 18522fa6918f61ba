from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

from tqdm.auto import tqdm

from ragsweep.types import Chunk, Document, make_chunk


class Chunker(ABC):
    """Bump ``version`` when a change alters the chunks: it is part of the chunk stage's cache key."""

    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name

    @abstractmethod
    def spans(self, doc: Document) -> list[tuple[int, int]] | list[tuple[int, int, dict[str, Any]]]:
        """Half-open character ranges of the chunks of ``doc``, in document order; a range may carry a third item,
        a dict kept as the chunk's metadata (e.g. where a reference implementation would place it)."""

    def chunk(self, docs: Iterable[Document], progress: bool = True) -> list[Chunk]:
        docs = list(docs)
        chunks: list[Chunk] = []
        for doc in tqdm(docs, desc=f"chunk[{type(self).__name__}]", disable=not progress, leave=False):
            for i, (start, end, *metadata) in enumerate(self.spans(doc)):
                chunks.append(make_chunk(doc, start, end, i, **(metadata[0] if metadata else {})))
        return chunks

