from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from ragsweep.types import Chunk


class Reranker(ABC):
    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name

    @abstractmethod
    def rerank(self, question: str, candidates: Sequence[Chunk]) -> list[tuple[int, float]]:
        """``(candidate position, score)`` pairs, best first; may be shorter than ``candidates``."""
