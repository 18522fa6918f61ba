"""In-process vLLM over the whole batch (the fastest path on a GPU; optional extra ``vllm``).

vllm pins its own torch build, so it lives in its own GPU environment (README, "GPU generation").
One engine is held per process: asking for another model releases the first (engine deleted, CUDA
cache emptied) before loading, so a sweep over generators never stacks models in GPU memory.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any, Sequence

from harness.errors import ConfigError
from harness.llm.base import BACKENDS, ChatBackend, Completion, Messages
from harness.models import resolve

log = logging.getLogger(__name__)

_ENGINE: dict[str, Any] = {"key": None, "llm": None}


def release_engine() -> None:
    """Free the engine this process holds (if any) and its GPU memory."""
    if _ENGINE["llm"] is None:
        return
    log.info("releasing vllm engine %s", _ENGINE["key"])
    _ENGINE.update(key=None, llm=None)
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def load_engine(model_id: str, **engine_args: Any):
    key = (model_id, tuple(sorted(engine_args.items())))
    if _ENGINE["key"] == key:
        return _ENGINE["llm"]
    release_engine()
    try:
        from vllm import LLM
    except ImportError as err:
        raise ConfigError("backend=vllm needs the vllm extra on a GPU machine: pip install 'ragsweep[vllm]'") from err
    resolved = resolve(model_id)
    extra = {"tokenizer": resolved.path} if resolved.gguf_file else {}
    path = f"{resolved.path}/{resolved.gguf_file}" if resolved.gguf_file else resolved.path
    log.info("loading vllm %s from %s", model_id, path)
    _ENGINE.update(key=key, llm=LLM(model=path, **engine_args, **extra))
    return _ENGINE["llm"]


def structured_params(json_schema: dict[str, Any]) -> dict[str, Any]:
    """SamplingParams kwargs for JSON-schema decoding: ``structured_outputs`` (vLLM >= 0.10.2) or the
    older ``guided_decoding`` (removed in 0.12)."""
    try:
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=json_schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=json_schema)}


@BACKENDS.register("vllm")
class VLLMBackend(ChatBackend):
    def __init__(
        self,
        model: str = "Qwen/Qwen2.5-0.5B-Instruct",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = 8192,
        **sampling: Any,
    ):
        super().__init__(model, **sampling)
        self.engine_args = {
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "seed": self.seed or 0,
        }

    def _llm(self):
        return load_engine(self.model, **self.engine_args)

    def count_tokens(self, text: str) -> int:
        return len(self._llm().get_tokenizer().encode(text, add_special_tokens=False))

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        from vllm import SamplingParams

        llm = self._llm()
        extra = structured_params(json_schema) if json_schema is not None else {}
        params = SamplingParams(temperature=self.temperature, max_tokens=max_tokens or self.max_tokens, seed=self.seed, **extra)
        t0 = time.perf_counter()
        try:
            outputs = llm.chat(list(conversations), params, use_tqdm=True)
        except Exception as err:  # recorded per conversation, never dropped
            log.error("vllm batch failed: %s", err)
            return [Completion("", error=f"{type(err).__name__}: {err}") for _ in conversations]
        latency = (time.perf_counter() - t0) / max(len(conversations), 1)
        return [
            Completion.reply(o.outputs[0].text, len(o.prompt_token_ids or ()), len(o.outputs[0].token_ids), latency, params.max_tokens)
            for o in outputs
        ]
