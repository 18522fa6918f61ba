"""The selector contract, and what the selectors share: scale-free scores and token counts.

A selector sees, per question, the final ranking (the reranker's, else the retriever's) with its scores, and returns
the positions of the chunks the generator gets, in the order it gets them. Retrievers' scores are on different
scales (BM25 unbounded, cosine in [-1, 1], reciprocal-rank fusion around 1/60), so a selector that reads scores reads
them min-max normalised over the candidates it considers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from ragsweep.types import Chunk


class Selector(ABC):
    """Bump ``version`` when a change alters what is selected: it is part of the select stage's cache key."""

    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name

    @abstractmethod
    def select(self, question: str, ranked: Sequence[Chunk], scores: Sequence[float]) -> list[int]:
        """Positions in ``ranked`` to give the generator, in the order to give them (each at most once)."""


def normalised(scores: Sequence[float]) -> np.ndarray:
    """Scores min-max scaled to [0, 1] over the candidates (all 1 when they are equal): a scale-free reading of any
    retriever's scores."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0:
        return s
    span = float(s.max() - s.min())
    return np.ones_like(s) if span == 0 else (s - s.min()) / span


def token_counts(chunks: Sequence[Chunk], encoding: str = "cl100k_base") -> list[int]:
    """Each chunk's length in tokens of ``encoding`` (what a prompt budget is counted in)."""
    from ragsweep.text import tiktoken_encoding

    enc = tiktoken_encoding(encoding)
    return [len(enc.encode(c.text, disallowed_special=())) for c in chunks]
