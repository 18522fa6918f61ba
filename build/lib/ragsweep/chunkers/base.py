from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterable

from tqdm.auto import tqdm

from ragsweep.types import Chunk, Document, make_chunk


class Chunker(ABC):
    """Bump ``version`` when a change alters the chunks: it is part of the chunk stage's cache key."""

    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name

    @abstractmethod
    def spans(self, doc: Document) -> list[tuple[int, int]]:
        """Half-open character ranges of the chunks of ``doc``, in document order."""

    def chunk(self, docs: Iterable[Document], progress: bool = True) -> list[Chunk]:
        docs = list(docs)
        chunks: list[Chunk] = []
        for doc in tqdm(docs, desc=f"chunk[{type(self).__name__}]", disable=not progress, leave=False):
            chunks.extend(make_chunk(doc, s, e, i) for i, (s, e) in enumerate(self.spans(doc)))
        return chunks

