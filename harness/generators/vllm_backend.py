"""In-process vLLM over the whole prompt batch (the fastest path on a GPU; optional extra ``vllm``).

vllm pins its own torch build, so it lives in its own GPU environment (README, "GPU generation").
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Sequence

from harness.errors import ConfigError
from harness.generators.base import Generator
from harness.models import resolve
from harness.registry import GENERATORS
from harness.types import Chunk, Generation, Query

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def load_vllm(model_id: str, tensor_parallel_size: int, gpu_memory_utilization: float, max_model_len: int | None, seed: int):
    try:
        from vllm import LLM
    except ImportError as err:
        raise ConfigError("generator=vllm needs the vllm extra on a GPU machine: pip install 'ragsweep[vllm]'") from err
    resolved = resolve(model_id)
    kwargs = {"tokenizer": resolved.path} if resolved.gguf_file else {}
    path = f"{resolved.path}/{resolved.gguf_file}" if resolved.gguf_file else resolved.path
    log.info("loading vllm %s from %s", model_id, path)
    return LLM(
        model=path,
        tensor_parallel_size=tensor_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        seed=seed,
        **kwargs,
    )


@GENERATORS.register("vllm")
class VLLMGenerator(Generator):
    label_params = ("model",)

    def __init__(
        self,
        model: str = "Qwen/Qwen2.5-0.5B-Instruct",
        max_tokens: int = 64,
        temperature: float = 0.0,
        seed: int = 0,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = 8192,
        **prompt,
    ):
        super().__init__(**prompt)
        self.model, self.max_tokens, self.temperature, self.seed = model, max_tokens, temperature, seed
        self.tensor_parallel_size, self.gpu_memory_utilization = tensor_parallel_size, gpu_memory_utilization
        self.max_model_len = max_model_len

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]:
        from vllm import SamplingParams

        llm = load_vllm(self.model, self.tensor_parallel_size, self.gpu_memory_utilization, self.max_model_len, self.seed)
        params = SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        conversations = [self.messages(q.question, ctx) for q, ctx in zip(queries, contexts)]
        t0 = time.perf_counter()
        outputs = llm.chat(conversations, params, use_tqdm=True)
        latency = (time.perf_counter() - t0) / max(len(queries), 1)
        return [
            Generation(
                query_id=q.query_id,
                answer=o.outputs[0].text.strip(),
                context_chunk_ids=tuple(c.chunk_id for c in ctx),
                prompt_tokens=len(o.prompt_token_ids or ()),
                completion_tokens=len(o.outputs[0].token_ids),
                latency_s=latency,
            )
            for q, ctx, o in zip(queries, contexts, outputs)
        ]
