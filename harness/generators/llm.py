"""Answer generation with any chat backend (hf, openai-compatible server, in-process vllm).

The prompt is a template from config rendered through the model's chat template. The context is the
top ``context_k`` chunks of the final ranking, in rank order, cut to ``context_budget_tokens`` (as the
backend's tokenizer counts them): chunks that do not fit are dropped from the bottom of the ranking and
the number dropped is recorded on each Generation. With ``citations: true`` the reply is JSON
``{"answer", "citations": [passage numbers]}``; citations that cannot be read are recorded as such (never
guessed), and the answer is still scored.
"""

from __future__ import annotations

from typing import Any, Sequence

from ragsweep.generators.base import Generator
from ragsweep.llm.base import backend_modules, build_backend
from ragsweep.registry import GENERATORS
from ragsweep.types import Chunk, Generation, LLMCalls, Query
from ragsweep.metrics.citations import read_cited_answer


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


CITATION_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "citations": {"type": "array", "items": {"type": "integer"}}},
    "required": ["answer", "citations"],
}


def cited_fields(text: str, context: Sequence[Chunk]) -> dict[str, Any]:
    """Generation fields of a reply to a citing prompt: the answer, the cited chunk ids (unknown numbers as
    "?<value>"), or the reason the citations could not be read."""
    read = read_cited_answer(text, len(context))
    if read.cited is None:
        return {"answer": read.answer, "citations": None, "citation_error": read.error}
    ids = [context[n - 1].chunk_id for n in read.cited] + [f"?{u}" for u in read.unknown]
    return {"answer": read.answer, "citations": tuple(dict.fromkeys(ids)), "citation_error": None}


@GENERATORS.register("llm")
class LLMGenerator(Generator):
    version = "5"  # citations
    label_params = ("backend", "model", "citations")

    def __init__(
        self,
        backend: str = "hf",
        context_k: int = 5,
        context_budget_tokens: int | None = None,
        system_prompt: str | None = None,
        user_template: str | None = None,
        examples: Sequence[dict[str, str]] | None = None,
        citations: bool = False,
        **backend_params: Any,
    ):
        prompt = {k: v for k, v in (("system_prompt", system_prompt), ("user_template", user_template), ("examples", examples)) if v is not None}
        super().__init__(context_k=context_k, **prompt)
        self.context_budget_tokens, self.citations = context_budget_tokens, citations
        self.backend = build_backend({"backend": backend, **backend_params})
        self.code_modules = backend_modules([{"backend": backend}])  # the backend's code is in the generate stage's key

    def _conversations(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> tuple[list[list[Chunk]], list[list[dict[str, str]]]]:
        """(each query's context after the token budget, its conversation)."""
        fitted = [fit_budget(ctx, self.context_budget_tokens, self.backend.count_tokens) for ctx in contexts]
        return fitted, [self.messages(q.question, ctx) for q, ctx in zip(queries, fitted)]

    def planned_calls(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> LLMCalls:
        """One call per query: its conversation's tokens as the backend counts them, the reply at max_tokens."""
        _, conversations = self._conversations(queries, contexts)
        return self.backend.planned(conversations, [self.backend.max_tokens] * len(conversations))

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]:
        """Answers; with ``citations`` the reply is asked for as JSON (schema-constrained where the backend
        can) and its cited passage numbers become chunk ids."""
        fitted, conversations = self._conversations(queries, contexts)
        completions = self.backend.complete(conversations, json_schema=CITATION_SCHEMA if self.citations else None, desc="generate")
        out = []
        for q, full, ctx, c in zip(queries, contexts, fitted, completions):
            fields: dict[str, Any] = {"answer": c.text}
            if self.citations and c.error is None:
                fields = cited_fields(c.text, ctx)
            out.append(Generation(
                query_id=q.query_id,
                context_chunk_ids=tuple(ch.chunk_id for ch in ctx),
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                latency_s=c.latency_s,
                error=c.error,
                context_dropped=len(full) - len(ctx),
                truncated=c.truncated,
                ttft_s=c.ttft_s,
                cached_prompt_tokens=c.cached_prompt_tokens,
                **fields,
            ))
        return out
