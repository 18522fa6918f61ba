from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from ragsweep.types import Chunk


class Retriever(ABC):
    """``index`` returns a picklable artifact (cached by the index stage); ``search`` ranks chunk
    positions for each question. Bump ``version`` when a change alters rankings."""

    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name

    @abstractmethod
    def index(self, chunks: Sequence[Chunk]) -> Any: ...

    @abstractmethod
    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """Top-k ``(chunk position, score)`` per question, best first."""


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Highest scores first; ties go to the earlier chunk, so rankings are deterministic."""
    order = np.lexsort((np.arange(scores.size), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]
