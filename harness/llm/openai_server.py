"""Any OpenAI-compatible chat server (``vllm serve``, llama.cpp server, TGI, hosted APIs).

Requests run with bounded concurrency; transient failures (connection errors, timeouts, 429 and 5xx)
are retried with exponential backoff, or after the server's ``Retry-After`` where it says one (bounded by
the request timeout); every successful response is stored on disk under the hash of
the request, so a re-run or a resumed sweep never pays for the same completion twice. A request that
still fails is returned as a Completion with its error, never dropped. Structured output uses the
standard ``response_format`` json_schema, which ``vllm serve`` enforces with guided decoding.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence


from ragsweep import runtime
from ragsweep.store.cache import read_checked, write_checked
from ragsweep.hashing import canonical_json, sha256_json
from ragsweep.llm.base import BACKENDS, ChatBackend, Completion, Messages, redact

log = logging.getLogger(__name__)


def retry_after_s(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number of seconds or an HTTP date), else None."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RequestCache:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, request: dict[str, Any]) -> Path:
        key = sha256_json(request)
        return self.root / key[:2] / f"{key}.json"

    def get(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The stored response, or None (also for a corrupt entry, which is moved aside)."""
        ok, value = read_checked(self._path(request), json.loads)
        return value if ok else None

    def put(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Only successful completions are stored: a failure is retried by the next run."""
        write_checked(self._path(request), canonical_json(response).encode("utf-8"))


def cached_tokens(usage: Any) -> int | None:
    """Prompt tokens the server served from its prefix cache (``usage.prompt_tokens_details.cached_tokens``, which
    OpenAI and vLLM with --enable-prompt-tokens-details report), or None where the server does not say."""
    value = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@BACKENDS.register("openai")
class OpenAIBackend(ChatBackend):
    def __init__(
        self,
        model: str = "default",
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 4,
        timeout_s: float = 60.0,
        backoff_s: float = 1.0,
        **sampling: Any,
    ):
        super().__init__(model, **sampling)
        self.base_url, self.api_key_env = base_url, api_key_env
        self.concurrency, self.max_retries, self.timeout_s, self.backoff_s = concurrency, max_retries, timeout_s, backoff_s

    def _client(self):
        from openai import OpenAI

        # Retries are ours (they are counted and logged); the client must not retry behind our back.
        return OpenAI(base_url=self.base_url, api_key=os.environ.get(self.api_key_env, "EMPTY"), timeout=self.timeout_s, max_retries=0)

    def request_body(self, messages: Messages, json_schema: dict[str, Any] | None = None, max_tokens: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens or self.max_tokens, "temperature": self.temperature}
        if self.seed is not None:
            body["seed"] = self.seed
        if json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": json_schema}}
        return body

    def _complete_one(self, client, cache: RequestCache, body: dict[str, Any], context: runtime.RunContext) -> Completion:
        import openai

        cache_key = {"format": 2, "base_url": self.base_url, **body}
        if (cached := cache.get(cache_key)) is not None:
            context.count("openai_request_cache_hits")
            return Completion(**cached)
        transient = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)
        for attempt in range(self.max_retries + 1):
            t0 = time.perf_counter()
            try:
                resp = client.chat.completions.create(**body)
            except transient as err:
                if attempt == self.max_retries:
                    raise
                context.count("openai_retries")
                delay = self.backoff_s * 2**attempt
                asked = retry_after_s(getattr(getattr(err, "response", None), "headers", None))
                if asked is not None:  # the server said when: honour it, never past the request timeout
                    delay = min(max(delay, asked), self.timeout_s)
                log.warning("openai request failed (%s), retry %d in %.1fs", type(err).__name__, attempt + 1, delay)
                time.sleep(delay)
                continue
            usage = resp.usage
            choice = resp.choices[0] if resp.choices else None
            result = Completion.reply(
                choice.message.content if choice is not None and choice.message is not None else None,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
                time.perf_counter() - t0,
                body["max_tokens"],
                self.cut_tokens,
                cached_prompt_tokens=cached_tokens(usage),
            )
            if result.error is None:  # a failed reply is retried by the next run, never kept as final
                cache.put(cache_key, result.to_dict())
            return result
        raise AssertionError("unreachable")

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        client = self._client()
        context = runtime.current()  # read here: the pool's threads do not inherit it
        cache = RequestCache(context.cache_dir / "openai_requests")

        def one(messages: Messages) -> Completion:
            try:
                return self._complete_one(client, cache, self.request_body(messages, json_schema, max_tokens), context)
            except Exception as err:
                message = redact(f"{type(err).__name__}: {err}", [os.environ.get(self.api_key_env, "")])
                log.error("openai request failed: %s", message)
                return Completion("", error=message)

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(context.progress(pool.map(one, conversations), f"{desc}[openai]", total=len(conversations)))
