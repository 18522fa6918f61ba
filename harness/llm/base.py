"""The backend contract: a batch of conversations in, one Completion per conversation out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from harness.registry import Registry

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """One reply; ``error`` is set (and ``text`` empty) when the backend failed for this conversation."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        from harness.text import tiktoken_encoding

        return len(tiktoken_encoding("cl100k_base").encode(text, disallowed_special=()))


BACKENDS: Registry[Any] = Registry("llm backend", "harness.llm")


def build_backend(params: dict[str, Any]) -> ChatBackend:
    """``{"backend": "hf", "model": ..., ...}`` -> a backend (the key is ``backend``, not ``name``)."""
    params = dict(params)
    return BACKENDS.build({"name": params.pop("backend"), **params})
