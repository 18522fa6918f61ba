"""The backend contract: a batch of conversations in, one Completion per conversation out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
import re
from typing import Any, Callable, Iterable, Sequence

from ragsweep.llm.work import PromptBatch, in_batches, llm_calls
from ragsweep.registry import Registry
from ragsweep.roles import BackendRole
from ragsweep.types import LLMCalls

Messages = list[dict[str, str]]


EMPTY_COMPLETION = "empty completion: the model returned no text"
# A server's completion_tokens is implausible when the harness's own count of the reply is this many times
# max_tokens (tokenizers differ, but not by this much): the reply is then cut by the harness's count.
IMPLAUSIBLE_TOKEN_RATIO = 4
MAX_TOKEN_CHARS = 128  # no cl100k token spans more characters: counting a prefix this long per token suffices


@dataclass(frozen=True)
class Completion:
    """One reply; ``error`` is set (and ``text`` empty) when the backend failed for this conversation.
    ``truncated``: the server returned more tokens than asked for, and the text was cut to the limit.
    Serving cost where the backend reports it (None where not): ``ttft_s``, the time from the request's arrival
    to its first token; ``cached_prompt_tokens``, prompt tokens served from the prefix cache."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    truncated: bool = False
    ttft_s: float | None = None
    cached_prompt_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def reply(
        cls, text: str | None, prompt_tokens: int, completion_tokens: int, latency_s: float, max_tokens: int,
        cut: Callable[[str, int], str | None] | None = None, ttft_s: float | None = None, cached_prompt_tokens: int | None = None,
    ) -> Completion:
        """The one way a backend turns a model's reply into a Completion: an empty or null reply is a failed
        call (counted, never scored as an empty answer). Where the backend's token counts come from elsewhere
        (a server), ``cut(text, n)`` gives the first n tokens as the harness counts them, or None when the
        text has no more than n: a reply the server says is longer than ``max_tokens``, or one whose own count
        is implausibly beyond what the server claims, is cut to ``max_tokens`` and flagged."""
        text = (text or "").strip()
        cost = {"ttft_s": ttft_s, "cached_prompt_tokens": cached_prompt_tokens}
        if not text:
            return cls("", prompt_tokens, completion_tokens, latency_s, error=EMPTY_COMPLETION, **cost)
        if cut is not None:
            limit = max_tokens if completion_tokens > max_tokens else IMPLAUSIBLE_TOKEN_RATIO * max(max_tokens, completion_tokens)
            if cut(text, limit) is not None:
                return cls((cut(text, max_tokens) or text).strip(), prompt_tokens, max_tokens, latency_s, truncated=True, **cost)
        return cls(text, prompt_tokens, completion_tokens, latency_s, **cost)


_SECRET_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*['\"]?)(bearer\s+)?[^\s'\",}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:api[_-]?key|access[_-]?token|secret)\s*['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
    re.compile(r"()\bsk-[A-Za-z0-9_-]{8,}"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials removed: every given secret value, and anything shaped like an
    Authorization header, a bearer token, an ``api_key=`` value or an ``sk-`` key. Error strings pass
    through here before they reach records, caches or logs."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[REDACTED]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text


CHAT_TOKENS_PER_MESSAGE, CHAT_TOKENS_PER_REPLY = 3, 3  # the chat format's own tokens (OpenAI's cookbook counts)


class ChatBackend(ABC):
    """Bump ``version`` when a change alters completions: it is part of every cache key that uses them."""

    version = "1"

    def __init__(self, model: str, max_tokens: int = 64, temperature: float = 0.0, seed: int | None = 0, batch_size: int = 8):
        # batch_size: conversations per forward batch where the backend batches itself (hf); callers
        # that generate in rounds (synthetic QA) also read it. Servers use their own concurrency.
        self.model, self.max_tokens, self.temperature, self.seed = model, max_tokens, temperature, seed
        self.batch_size = batch_size

    @abstractmethod
    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        """``json_schema`` asks for structured (guided) decoding where the backend has it; others ignore it.
        ``max_tokens`` overrides the backend's own limit for this batch (a YES/NO verdict needs few)."""

    def count_tokens(self, text: str) -> int:
        """Tokens as this backend's model counts them (cl100k where the model's tokenizer is not at hand)."""
        from ragsweep.text import tiktoken_encoding

        return len(tiktoken_encoding("cl100k_base").encode(text, disallowed_special=()))

    def count_prompt_tokens(self, messages: Messages) -> int:
        """Prompt tokens of one conversation as the model will see it. Here: its texts as ``count_tokens`` counts
        them, plus the chat format's few tokens a message and for the reply's start (OpenAI's accounting); a
        backend that holds the model's chat template counts it exactly."""
        return sum(self.count_tokens(m["content"]) + CHAT_TOKENS_PER_MESSAGE for m in messages) + CHAT_TOKENS_PER_REPLY

    def prompt_batches(self, conversations: Sequence[Messages]) -> list[PromptBatch]:
        """How ``complete`` evaluates these conversations' prompts: ``batch_size`` at a time, each prompt whole. A
        backend that evaluates a batch's common prefix once says so (llamacpp)."""
        keys = [repr(c) for c in conversations]
        counted: dict[str, int] = {}  # a conversation asked many times (an assessor's bound prompts) is counted once
        for key, c in zip(keys, conversations):
            if key not in counted:
                counted[key] = self.count_prompt_tokens(c)
        return [PromptBatch(tuple(counted[k] for k in group)) for group in in_batches(keys, self.batch_size)]

    def planned(self, conversations: Sequence[Messages], reply_limits: Sequence[int]) -> LLMCalls:
        """What asking these conversations in one ``complete`` call will cost, each reply at its limit, counted
        without asking (``ragsweep plan``)."""
        return llm_calls(self.registry_name, str(self.model), self.prompt_batches(conversations), reply_limits)

    def cut_tokens(self, text: str, n: int) -> str | None:
        """The first ``n`` tokens of ``text`` (counted as ``count_tokens`` counts them), or None when it has no
        more than ``n``. Only a prefix of ``text`` is tokenized, so a reply of millions of characters costs no
        more than one of ``n`` tokens."""
        from ragsweep.text import tiktoken_encoding

        enc = tiktoken_encoding("cl100k_base")
        tokens = enc.encode(text[: (n + 1) * MAX_TOKEN_CHARS], disallowed_special=())
        return enc.decode(tokens[:n]) if len(tokens) > n else None


BACKENDS: Registry[Any] = Registry("llm backend", "ragsweep.llm", BackendRole)


def backend_modules(model_configs: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The modules of the backends ``model_configs`` name. A component that builds its backends by name (a judge,
    an LLM generator) imports none of them statically, so its stage key takes their code from here
    (``code_modules``): an edited backend recomputes what it produced."""
    return tuple(sorted({BACKENDS.get(str(m["backend"])).__module__ for m in model_configs}))


def build_backend(params: dict[str, Any]) -> ChatBackend:
    """``{"backend": "hf", "model": ..., ...}`` -> a backend (the key is ``backend``, not ``name``)."""
    params = dict(params)
    return BACKENDS.build({"name": params.pop("backend"), **params})
