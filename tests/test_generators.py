"""Generators: the extractive floor, the bundled LLM for real, and the OpenAI-compatible client against a
loopback server (the one external boundary that cannot run here)."""

from __future__ import annotations

import pytest

from ragsweep.generators.extractive import ExtractiveGenerator
from ragsweep.generators.llm import LLMGenerator, fit_budget
from ragsweep.types import Chunk, Query
from tests.loopback_openai import LoopbackServer

CONTEXT = [
    Chunk("a#0", "a", 0, 0, "Calder Bay is a coastal city. Tomas Hale was born in 1949 in Calder Bay."),
    Chunk("b#0", "b", 0, 0, "Nadia Orsk was born in 1958 in Dunmoor."),
]
QUERY = Query("q1", "In which city was Tomas Hale born?", answers=("Calder Bay",))


def test_extractive_picks_the_sentence_sharing_most_question_words():
    [gen] = ExtractiveGenerator().generate([QUERY], [CONTEXT])
    assert gen.answer == "Tomas Hale was born in 1949 in Calder Bay."
    assert gen.context_chunk_ids == ("a#0", "b#0") and gen.error is None


def test_context_budget_keeps_the_rank_order_prefix_that_fits():
    chunks = [Chunk(f"c#{i}", "c", 0, 0, "w " * n) for i, n in enumerate([3, 4, 2])]
    words = lambda text: len(text.split())  # noqa: E731
    assert [c.chunk_id for c in fit_budget(chunks, 7, words)] == ["c#0", "c#1"]
    assert [c.chunk_id for c in fit_budget(chunks, 6, words)] == ["c#0"]  # c#2 would fit, but rank order stops at c#1
    assert fit_budget(chunks, None, words) == chunks and fit_budget(chunks, 2, words) == []


@pytest.mark.model
def test_context_budget_drops_are_counted_per_query():
    gen = LLMGenerator(backend="hf", max_tokens=4, device="cpu", context_budget_tokens=25)
    [out] = gen.generate([QUERY], [CONTEXT])
    assert out.context_chunk_ids == ("a#0",) and out.context_dropped == 1


@pytest.mark.model
def test_hf_generator_runs_the_bundled_model():
    # SmolLM2-135M is small: the test checks that a real model read the context, not that it reasons.
    gen = LLMGenerator(backend="hf", max_tokens=12, device="cpu")
    context = [Chunk("k#0", "k", 0, 0, "The capital of Kestra is Dunmoor.")]
    [out] = gen.generate([Query("q", "What is the capital of Kestra?")], [context])
    assert out.error is None
    assert "Dunmoor" in out.answer
    assert out.prompt_tokens > 30 and 0 < out.completion_tokens <= 12


def _echo(body):
    return "echo: " + body["messages"][-1]["content"].rsplit("Question: ", 1)[1].split("\n")[0]


def test_openai_retries_then_caches(run_context):
    with LoopbackServer(_echo, failures=2) as server:
        gen = LLMGenerator(backend="openai", model="m", base_url=server.url, backoff_s=0.01, concurrency=2)
        [out] = gen.generate([QUERY], [CONTEXT])
        assert out.error is None and out.answer == "echo: In which city was Tomas Hale born?"
        assert (out.prompt_tokens, out.completion_tokens) == (11, 3)
        assert server.calls == 3 and run_context.counters["openai_retries"] == 2
        [again] = gen.generate([QUERY], [CONTEXT])
        assert again.answer == out.answer and server.calls == 3  # served from the on-disk request cache


def test_openai_failure_is_recorded_not_dropped(isolated_cache):
    with LoopbackServer(_echo, failures=100) as server:
        gen = LLMGenerator(backend="openai", model="m", base_url=server.url, backoff_s=0.01, max_retries=1)
        queries = [QUERY, Query("q2", "Where was Nadia Orsk born?")]
        outs = gen.generate(queries, [CONTEXT, CONTEXT])
        assert [o.query_id for o in outs] == ["q1", "q2"]
        assert all(o.answer == "" and "InternalServerError" in o.error for o in outs)
        assert server.calls == 4


@pytest.mark.parametrize("status", [400])
def test_openai_client_errors_are_not_retried(isolated_cache, status):
    with LoopbackServer(_echo, failures=100, status=status) as server:
        [out] = LLMGenerator(backend="openai", model="m", base_url=server.url, backoff_s=0.01).generate([QUERY], [CONTEXT])
        assert out.error and "BadRequestError" in out.error and server.calls == 1
