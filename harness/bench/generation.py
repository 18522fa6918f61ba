"""Generation throughput of chat backends on the same prompts: ``hf`` always, ``vllm`` where it is
installed and a GPU is present (skipped with the reason otherwise). The prompts are the bundled
multi-hop suite's questions with their BM25 top-3 chunks, repeated to ``--prompts``.
Writes results/bench/generation.json; run on a GPU machine for the vllm-vs-hf ratio.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from harness.bench.common import write_result
from harness.chunkers.fixed_tokens import FixedTokenChunker
from harness.generators.base import answer_messages
from harness.llm.base import build_backend
from harness.retrievers.bm25 import BM25Retriever
from tasks.hotpotqa import HotpotQATask

log = logging.getLogger("harness.bench.generation")


def prompts(n: int) -> list[list[dict[str, str]]]:
    documents, queries = HotpotQATask("bundled:multihop_mini").checked_load()
    chunks = FixedTokenChunker(size=128).chunk(documents, progress=False)
    retriever = BM25Retriever()
    ranked = retriever.search(retriever.index(chunks), [q.question for q in queries], 3)
    conversations = [answer_messages(q.question, [chunks[i] for i, _ in r]) for q, r in zip(queries, ranked)]
    return [conversations[i % len(conversations)] for i in range(n)]


def measure(config: dict, conversations) -> dict:
    backend = build_backend(config)
    backend.complete(conversations[:2], desc="warm-up")  # model load outside the timing
    t0 = time.perf_counter()
    out = backend.complete(conversations, desc="bench")
    wall = time.perf_counter() - t0
    tokens = sum(c.completion_tokens for c in out)
    return {"config": config, "wall_s": wall, "completion_tokens": tokens, "completion_tokens_per_s": tokens / wall,
            "prompts_per_s": len(conversations) / wall, "errors": sum(1 for c in out if c.error)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--hf-model", default="bundled:SmolLM2-135M-Instruct")
    parser.add_argument("--vllm-model", default="bundled:SmolLM2-135M-Instruct")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("results/bench/generation.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    conversations = prompts(args.prompts)
    common = {"max_tokens": args.max_tokens, "temperature": 0.0, "seed": 0}
    result: dict = {"prompts": len(conversations), "hf": measure({"backend": "hf", "model": args.hf_model, "batch_size": 16, **common}, conversations)}
    try:
        import importlib.util

        import torch

        if importlib.util.find_spec("vllm") is None:
            raise ImportError("vllm is not installed (GPU environment only)")
        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device")
        result["vllm"] = measure({"backend": "vllm", "model": args.vllm_model, **common}, conversations)
        result["vllm_speedup_vs_hf"] = result["vllm"]["completion_tokens_per_s"] / result["hf"]["completion_tokens_per_s"]
    except (ImportError, RuntimeError) as err:
        result["vllm"] = f"skipped: {type(err).__name__}: {err}"
    write_result(args.out, result)


if __name__ == "__main__":
    main()
