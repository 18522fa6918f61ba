"""Generators: the extractive floor, the bundled LLM for real, and the OpenAI-compatible client against a
loopback server (the one external boundary that cannot run here)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import runtime
from harness.generators.extractive import ExtractiveGenerator
from harness.generators.hf import HFGenerator
from harness.generators.openai_compat import OpenAIGenerator
from harness.types import Chunk, Query

CONTEXT = [
    Chunk("a#0", "a", 0, 0, "Calder Bay is a coastal city. Tomas Hale was born in 1949 in Calder Bay."),
    Chunk("b#0", "b", 0, 0, "Nadia Orsk was born in 1958 in Dunmoor."),
]
QUERY = Query("q1", "In which city was Tomas Hale born?", answers=("Calder Bay",))


def test_extractive_picks_the_sentence_sharing_most_question_words():
    [gen] = ExtractiveGenerator().generate([QUERY], [CONTEXT])
    assert gen.answer == "Tomas Hale was born in 1949 in Calder Bay."
    assert gen.context_chunk_ids == ("a#0", "b#0") and gen.error is None


def test_hf_generator_runs_the_bundled_model():
    # SmolLM2-135M is small: the test checks that a real model read the context, not that it reasons.
    gen = HFGenerator(max_new_tokens=12, device="cpu")
    context = [Chunk("k#0", "k", 0, 0, "The capital of Kestra is Dunmoor.")]
    [out] = gen.generate([Query("q", "What is the capital of Kestra?")], [context])
    assert out.error is None
    assert "Dunmoor" in out.answer
    assert out.prompt_tokens > 30 and 0 < out.completion_tokens <= 12


class _Server:
    """A loopback OpenAI-compatible endpoint: fails the first ``failures`` calls with 500."""

    def __init__(self, failures: int, status: int = 500):
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls += 1
                if outer.calls <= failures:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "boom"}}')
                    return
                question = body["messages"][-1]["content"].rsplit("Question: ", 1)[1].split("\n")[0]
                payload = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": f"echo: {question}"}}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def close(self):
        self.httpd.shutdown()


def test_openai_retries_then_caches(isolated_cache):
    server = _Server(failures=2)
    try:
        gen = OpenAIGenerator(model="m", base_url=server.url, backoff_s=0.01, concurrency=2)
        [out] = gen.generate([QUERY], [CONTEXT])
        assert out.error is None and out.answer == "echo: In which city was Tomas Hale born?"
        assert (out.prompt_tokens, out.completion_tokens) == (11, 3)
        assert server.calls == 3 and runtime.counters()["openai_retries"] == 2
        [again] = gen.generate([QUERY], [CONTEXT])
        assert again.answer == out.answer and server.calls == 3  # served from the on-disk request cache
    finally:
        server.close()


def test_openai_failure_is_recorded_not_dropped(isolated_cache):
    server = _Server(failures=100)
    try:
        gen = OpenAIGenerator(model="m", base_url=server.url, backoff_s=0.01, max_retries=1)
        queries = [QUERY, Query("q2", "Where was Nadia Orsk born?")]
        outs = gen.generate(queries, [CONTEXT, CONTEXT])
        assert [o.query_id for o in outs] == ["q1", "q2"]
        assert all(o.answer == "" and "InternalServerError" in o.error for o in outs)
        assert server.calls == 4
    finally:
        server.close()


@pytest.mark.parametrize("status", [400])
def test_openai_client_errors_are_not_retried(isolated_cache, status):
    server = _Server(failures=100, status=status)
    try:
        [out] = OpenAIGenerator(model="m", base_url=server.url, backoff_s=0.01).generate([QUERY], [CONTEXT])
        assert out.error and "BadRequestError" in out.error and server.calls == 1
    finally:
        server.close()
