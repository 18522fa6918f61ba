"""llama.cpp (llama-cpp-python) on the CPU: a GGUF model run as it is stored, quantised, one conversation at a time.

The bundled SmolLM2-135M-Instruct is a GGUF file; llama.cpp runs it without de-quantising. On this project's 2-core
machine it answered one conversation at a time 7.2x faster than transformers, while transformers' batches of 8
were faster in the two parallel jobs of the generation sweep (docs/benchmarks.md). The conversation goes through the chat template stored in the GGUF file, the same
one transformers reads, so both backends see the same prompt tokens.

Structured output: a JSON schema becomes llama.cpp's grammar, so the reply is valid JSON of that schema (guided
decoding, as vLLM's). Greedy at temperature 0; a seed makes sampling repeatable.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any, Sequence

from ragsweep import runtime
from ragsweep.errors import ConfigError
from ragsweep.llm.base import BACKENDS, ChatBackend, Completion, Messages

log = logging.getLogger(__name__)
INSTALL = "pip install llama-cpp-python==0.3.36 (make install does; it compiles llama.cpp, about 10 minutes on 2 cores)"


def gguf_path(model: str) -> str:
    """The GGUF file of a bundled model id, or ``model`` itself when it names a .gguf file."""
    from pathlib import Path

    from ragsweep.models.weights import resolve

    if model.endswith(".gguf"):
        if not Path(model).expanduser().is_file():
            raise ConfigError(f"llamacpp model {model!r}: no such GGUF file")
        return str(Path(model).expanduser())
    resolved = resolve(model)
    if resolved.gguf_file is None:
        raise ConfigError(f"llamacpp model {model!r} has no GGUF file: name a bundled GGUF model or a path ending in .gguf")
    return str(Path(resolved.path) / resolved.gguf_file)


@lru_cache(maxsize=2)
def load_llama(path: str, n_ctx: int, n_threads: int | None, seed: int) -> Any:
    """One loaded model per (file, context, threads, seed) in the process, shared by the generator and judges."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError(f"backend llamacpp needs llama-cpp-python, which is not installed: {INSTALL}") from None
    with runtime.current().working(f"loading {path.rsplit('/', 1)[-1]} (llama.cpp)"):
        return Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, seed=seed, verbose=False)


@BACKENDS.register("llamacpp")
class LlamaCppBackend(ChatBackend):
    """``n_ctx``: the context window llama.cpp allocates (prompt + reply); ``n_threads``: None is this process's
    share of the cores (RunContext.cores_per_job: all of them for a run, one of two for each of a sweep's two parallel
    jobs). llama-cpp-python's own default, half the cores, left one of two idle in a run; two threads in each of two
    parallel jobs wait on one another, and generation ran 5 to 9 times slower."""

    def __init__(self, model: str = "bundled:SmolLM2-135M-Instruct", n_ctx: int = 4096, n_threads: int | None = None, **sampling: Any):
        super().__init__(model, **sampling)
        self.n_ctx, self.n_threads = n_ctx, n_threads

    def _llama(self) -> Any:
        threads = self.n_threads or runtime.current().cores_per_job()
        return load_llama(gguf_path(self.model), self.n_ctx, threads, self.seed or 0)

    def count_tokens(self, text: str) -> int:
        return len(self._llama().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: Messages) -> int:
        """Exactly: the conversation through the GGUF file's chat template, as ``complete`` sends it."""
        llama = self._llama()
        prompt = self._formatter(llama)(messages=list(messages)).prompt
        return len(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    @staticmethod
    def _formatter(llama: Any) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        vocab = llama.metadata
        bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
        eos = llama._model.token_get_text(llama.token_eos()) if llama.token_eos() >= 0 else ""
        return Jinja2ChatFormatter(template=vocab["tokenizer.chat_template"], bos_token=bos, eos_token=eos)

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm",
                 max_tokens: int | None = None) -> list[Completion]:
        llama = self._llama()
        limit = max_tokens or self.max_tokens
        out: list[Completion] = []
        with runtime.current().progress_bar(f"{desc}[llamacpp]", len(conversations)) as bar:
            for messages in conversations:
                out.append(self._one(llama, messages, json_schema, limit))
                bar.update(1)
        return out

    def _one(self, llama: Any, messages: Messages, json_schema: dict[str, Any] | None, limit: int) -> Completion:
        t0 = time.perf_counter()
        try:
            reply = llama.create_chat_completion(
                messages=list(messages), max_tokens=limit, temperature=self.temperature, seed=self.seed,
                **({"response_format": {"type": "json_object", "schema": json_schema}} if json_schema is not None else {}),
            )
        except Exception as err:  # one failed conversation is recorded, never dropped
            log.error("llamacpp generation failed: %s", err)
            return Completion("", error=f"{type(err).__name__}: {err}")
        usage = reply.get("usage") or {}
        text = reply["choices"][0]["message"].get("content")
        return Completion.reply(text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), time.perf_counter() - t0, limit)
