from __future__ import annotations

from typing import Sequence

from ragsweep.errors import ConfigError
from ragsweep.registry import SELECTORS
from ragsweep.selectors.base import Selector, normalised, token_counts
from ragsweep.types import Chunk


def overlap(a: Chunk, b: Chunk, words: dict[str, set[str]]) -> float:
    """How much of ``a`` is already in ``b``: the shared share of its characters where both come from one document
    and overlap there, else the share of its distinct words that ``b`` also has."""
    if a.doc_id == b.doc_id and a.start < b.end and b.start < a.end:
        return (min(a.end, b.end) - max(a.start, b.start)) / max(1, a.end - a.start)
    mine = words[a.chunk_id]
    return len(mine & words[b.chunk_id]) / max(1, len(mine))


@SELECTORS.register("budgeted")
class BudgetedSelector(Selector):
    """Chunks under a token budget (after CORAG's cost-constrained selection, greedy): of the top ``candidates``,
    repeatedly take the chunk with the most value per token, where its value is its normalised score times the share
    of it not already in a chosen chunk (``redundancy`` weighs that), until no chunk of positive value fits in
    ``budget_tokens``. The chosen chunks go to the generator in rank order."""

    label_params = ("budget_tokens",)

    def __init__(self, budget_tokens: int = 512, candidates: int = 20, redundancy: float = 1.0, encoding: str = "cl100k_base"):
        if budget_tokens < 1 or candidates < 1:
            raise ConfigError(f"selector budgeted: budget_tokens and candidates must be at least 1, not {budget_tokens} and {candidates}")
        if not 0 <= redundancy <= 1:
            raise ConfigError(f"selector budgeted: redundancy must be in [0, 1], not {redundancy}")
        self.budget_tokens, self.candidates, self.redundancy, self.encoding = budget_tokens, candidates, redundancy, encoding

    def select(self, question: str, ranked: Sequence[Chunk], scores: Sequence[float]) -> list[int]:
        pool = list(ranked[: self.candidates])
        value = normalised(scores[: len(pool)])
        cost = token_counts(pool, self.encoding)
        words = {c.chunk_id: set(c.text.lower().split()) for c in pool}
        chosen: list[int] = []
        left = self.budget_tokens
        while True:
            best, best_rate = None, 0.0
            for i, chunk in enumerate(pool):
                if i in chosen or cost[i] > left or cost[i] == 0:
                    continue
                novel = 1.0 - self.redundancy * max((overlap(chunk, pool[j], words) for j in chosen), default=0.0)
                rate = value[i] * novel / cost[i]
                if rate > best_rate:
                    best, best_rate = i, rate
            if best is None:
                return sorted(chosen)
            chosen.append(best)
            left -= cost[best]
