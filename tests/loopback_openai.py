"""A loopback OpenAI-compatible chat endpoint: the one external boundary (a model server) that cannot
run here. ``reply(body)`` writes the assistant text (None: a null ``content``); the first ``failures`` calls
answer ``status`` with ``error_body(headers)`` (default: a plain error) and the extra ``headers``;
``completion_tokens`` is what the usage block claims; ``cached_tokens``, where given, its prompt tokens served from
the server's prefix cache (``usage.prompt_tokens_details``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class LoopbackServer:
    def __init__(
        self,
        reply: Callable[[dict[str, Any]], str | None],
        failures: int = 0,
        status: int = 500,
        error_body: Callable[[Any], bytes] | None = None,
        completion_tokens: int = 3,
        headers: dict[str, str] | None = None,
        cached_tokens: int | None = None,
    ):
        self.calls = 0
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls += 1
                outer.bodies.append(body)
                if outer.calls <= failures:
                    data = error_body(self.headers) if error_body else b'{"error": {"message": "boom"}}'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                    return
                payload = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply(body)}}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": completion_tokens, "total_tokens": 11 + completion_tokens,
                              **({"prompt_tokens_details": {"cached_tokens": cached_tokens}} if cached_tokens is not None else {})},
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

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
