from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from ragsweep.types import Chunk, Generation, LLMCalls, Query

DEFAULT_SYSTEM_PROMPT = (
    "You answer questions using only the given context. Reply with the shortest answer that is "
    "correct: a name, a number, a date or a short phrase. Do not explain."
)
DEFAULT_USER_TEMPLATE = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"


def answer_messages(
    question: str, chunks: Sequence[Chunk], system_prompt: str = DEFAULT_SYSTEM_PROMPT, user_template: str = DEFAULT_USER_TEMPLATE,
    examples: Sequence[dict[str, str]] = (),
) -> list[dict[str, str]]:
    """The answer prompt: few-shot turns (``{user, assistant}``, if any), then numbered context chunks in rank
    order and the question."""
    context = "\n\n".join(f"[{i}] {c.text}" for i, c in enumerate(chunks, start=1))
    shots = [{"role": role, "content": e[role]} for e in examples for role in ("user", "assistant")]
    return [{"role": "system", "content": system_prompt}, *shots, {"role": "user", "content": user_template.format(context=context, question=question)}]


class Generator(ABC):
    """Every generator sees the top ``context_k`` chunks of the final ranking, in rank order.

    Bump ``version`` when a change alters answers: it is part of the generate stage's cache key.
    """

    version = "1"
    label_params: tuple[str, ...] = ()  # what the leaderboard shows beside the name
    context_k: int  # set by the constructor

    def __init__(
        self,
        context_k: int = 5,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        user_template: str = DEFAULT_USER_TEMPLATE,
        examples: Sequence[dict[str, str]] = (),
    ):
        self.context_k = context_k
        self.system_prompt = system_prompt
        self.user_template = user_template
        self.examples = [dict(e) for e in examples]

    def messages(self, question: str, chunks: Sequence[Chunk]) -> list[dict[str, str]]:
        return answer_messages(question, chunks, self.system_prompt, self.user_template, self.examples)

    @abstractmethod
    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]: ...

    def planned_calls(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> LLMCalls | None:
        """What ``generate`` would ask of a language model, counted without asking (``ragsweep plan``); None for a
        generator that asks none, which a plan simply runs."""
        return None
