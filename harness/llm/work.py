"""What a set of LLM calls asks of the machine, in the units its measured costs price (engine/plan.TokenCost).

Counting tokens alone mispriced long prompts and batches: llama.cpp evaluates a prefix the conversations of a batch
share once (most of a rubric's prompt), every token attends to all earlier ones of its conversation (so a token of a
900-token prompt costs more than one of a 200-token prompt), and a decoding step reads the weights once for the
whole batch. The bench (``ragsweep bench generation``) records these quantities for what it ran and fits a cost to
each; a plan counts the same quantities for what it will run and prices them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from ragsweep.types import LLMCalls

T = TypeVar("T")


@dataclass(frozen=True)
class PromptBatch:
    """Conversations a backend evaluates together: each one's prompt tokens, and the leading tokens all of them hold
    that it evaluates once for the batch."""

    lengths: tuple[int, ...]
    shared: int = 0

    def __post_init__(self) -> None:
        if self.shared < 0 or any(n < self.shared for n in self.lengths):
            raise ValueError(f"a batch's shared prefix ({self.shared}) is longer than one of its prompts {self.lengths}")


def in_batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` in consecutive groups of ``size``, as a backend's ``complete`` takes them."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def attention_pairs(start: int, end: int) -> int:
    """(token, earlier-or-same token) pairs of the tokens at positions ``start`` to ``end - 1`` of one sequence."""
    return (end * (end + 1) - start * (start + 1)) // 2


def llm_calls(backend: str, model: str, batches: Sequence[PromptBatch], replies: Sequence[int]) -> LLMCalls:
    """The work of the batches' conversations given each one's reply tokens, in the batches' order (a plan: each
    reply at its bound; the bench: the tokens each reply had)."""
    if sum(len(b.lengths) for b in batches) != len(replies):
        raise ValueError(f"{len(replies)} replies for {sum(len(b.lengths) for b in batches)} conversations")
    evaluated = pairs = steps = 0
    rest = iter(replies)
    for batch in batches:
        own = [next(rest) for _ in batch.lengths]
        evaluated += batch.shared + sum(n - batch.shared for n in batch.lengths)
        pairs += attention_pairs(0, batch.shared) + sum(attention_pairs(batch.shared, n + r) for n, r in zip(batch.lengths, own))
        steps += max(own, default=0)
    return LLMCalls(model, backend, len(replies), sum(n for b in batches for n in b.lengths), sum(replies), evaluated, pairs, steps)
