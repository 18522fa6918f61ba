"""A floor baseline with no LLM: answer with the context sentence that shares most question words."""

from __future__ import annotations

import time
from typing import Sequence

from ragsweep.generators.base import Generator
from ragsweep.registry import GENERATORS
from ragsweep.text import sentence_spans, word_tokens
from ragsweep.types import Chunk, Generation, Query

# Words that carry no evidence about which sentence answers a question.
_STOPWORDS = frozenset(
    "a an the of in on at to for by with from and or is are was were be been who whom whose what which "
    "when where why how did does do that this these those it its as than".split()
)


@GENERATORS.register("extractive")
class ExtractiveGenerator(Generator):
    version = "2"  # Thai sentences from pythainlp crfcut
    def __init__(self, context_k: int = 5, language: str = "en"):
        super().__init__(context_k=context_k)
        self.language = language

    def best_sentence(self, question: str, chunks: Sequence[Chunk]) -> str:
        q_words = set(word_tokens(question, self.language)) - _STOPWORDS  # type: ignore[arg-type]
        best, best_score = "", 0
        for chunk in chunks:
            for start, end in sentence_spans(chunk.text, self.language):  # type: ignore[arg-type]
                sentence = chunk.text[start:end]
                score = len(q_words & set(word_tokens(sentence, self.language)))  # type: ignore[arg-type]
                if score > best_score:
                    best, best_score = sentence, score
        return best

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]:
        out = []
        for query, chunks in zip(queries, contexts):
            t0 = time.perf_counter()
            answer = self.best_sentence(query.question, chunks)
            out.append(
                Generation(query.query_id, answer, tuple(c.chunk_id for c in chunks), latency_s=time.perf_counter() - t0)
            )
        return out
