"""Dense encoding throughput: our cached ``embed`` (cold, then warm) vs raw sentence-transformers
``encode`` on the same texts with the same batch size, in one run. Writes results/bench/dense.json."""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from ragsweep import runtime
from ragsweep.paths import results_root
from ragsweep.bench.common import bench_suite, write_result
from ragsweep.embedders import embed, load_sentence_transformer

log = logging.getLogger("ragsweep.bench.dense")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="bundled:all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=results_root() / "bench" / "dense.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    suite, chunks, _ = bench_suite()
    texts = [c.text for c in chunks]
    model = load_sentence_transformer(args.model)
    model.encode(texts[:8])  # warm-up outside the timings
    t0 = time.perf_counter()
    raw = model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    raw_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as cache:
        runtime.configure(cache)
        t0 = time.perf_counter()
        cold = embed(args.model, texts, args.batch_size)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        embed(args.model, texts, args.batch_size)
        warm_s = time.perf_counter() - t0
    write_result(args.out, {
        "suite": suite, "texts": len(texts), "model": args.model, "batch_size": args.batch_size,
        "raw_encode_s": raw_s, "ours_cold_s": cold_s, "ours_warm_s": warm_s,
        "raw_texts_per_s": len(texts) / raw_s, "ours_cold_texts_per_s": len(texts) / cold_s, "ours_warm_texts_per_s": len(texts) / warm_s,
        "cold_overhead_ratio": cold_s / raw_s, "warm_speedup_vs_raw": raw_s / warm_s,
        "max_abs_diff_vs_raw": float(np.abs(cold - raw).max()),
    })
