"""Answer generation with any chat backend (hf, openai-compatible server, in-process vllm).

The prompt is a template from config rendered through the model's chat template. The context is the
top ``context_k`` chunks of the final ranking, in rank order, cut to ``context_budget_tokens`` (as the
backend's tokenizer counts them): chunks that do not fit are dropped from the bottom of the ranking and
the number dropped is recorded on each Generation.
"""

from __future__ import annotations

from typing import Any, Sequence

from harness.generators.base import Generator
from harness.llm.base import build_backend
from harness.registry import GENERATORS
from harness.types import Chunk, Generation, Query


def fit_budget(chunks: Sequence[Chunk], budget: int | None, count_tokens) -> list[Chunk]:
    """The longest rank-order prefix of ``chunks`` whose texts total at most ``budget`` tokens."""
    if budget is None:
        return list(chunks)
    kept, used = [], 0
    for chunk in chunks:
        used += count_tokens(chunk.text)
        if used > budget:
            break
        kept.append(chunk)
    return kept


@GENERATORS.register("llm")
class LLMGenerator(Generator):
    version = "4"  # empty replies are errors; over-long replies cut and flagged
    label_params = ("backend", "model")

    def __init__(
        self,
        backend: str = "hf",
        context_k: int = 5,
        context_budget_tokens: int | None = None,
        system_prompt: str | None = None,
        user_template: str | None = None,
        **backend_params: Any,
    ):
        prompt = {k: v for k, v in (("system_prompt", system_prompt), ("user_template", user_template)) if v is not None}
        super().__init__(context_k=context_k, **prompt)
        self.context_budget_tokens = context_budget_tokens
        self.backend = build_backend({"backend": backend, **backend_params})

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]:
        fitted = [fit_budget(ctx, self.context_budget_tokens, self.backend.count_tokens) for ctx in contexts]
        completions = self.backend.complete([self.messages(q.question, ctx) for q, ctx in zip(queries, fitted)], desc="generate")
        return [
            Generation(
                query_id=q.query_id,
                answer=c.text,
                context_chunk_ids=tuple(ch.chunk_id for ch in ctx),
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                latency_s=c.latency_s,
                error=c.error,
                context_dropped=len(full) - len(ctx),
                truncated=c.truncated,
            )
            for q, full, ctx, c in zip(queries, contexts, fitted, completions)
        ]
