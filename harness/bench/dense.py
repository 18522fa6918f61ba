"""Dense encoding throughput: our cached ``embed`` (cold: an empty cache each time; warm: all hits) vs raw
sentence-transformers ``encode`` on the same texts with the same batch size, in one run, the sides
alternating and repeated (medians). Writes results/bench/dense.json."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np

from ragsweep import runtime
from ragsweep.bench.common import alternate, bench_suite, out_file, positive_int, write_result
from ragsweep.models.embedders import embed, load_sentence_transformer
from ragsweep.paths import results_root
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.dense")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench dense", description=plain_doc(__doc__))
    parser.add_argument("--model", default="bundled:all-MiniLM-L6-v2", help="the embedder's model id or folder")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="texts per encoding batch")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timings per side, alternating")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "dense.json", help="where the result goes (default: <results>/bench/dense.json)")
    args = parser.parse_args(argv)
    setup_logging()
    suite, chunks, _ = bench_suite()
    texts = [c.text for c in chunks]
    model = load_sentence_transformer(args.model)
    model.encode(texts[:8])  # warm-up outside the timings

    def cold() -> np.ndarray:
        with tempfile.TemporaryDirectory() as cache, runtime.RunContext(Path(cache), bars=False).active():
            return embed(args.model, texts, args.batch_size)

    with tempfile.TemporaryDirectory() as warm_cache:
        warm_context = runtime.RunContext(Path(warm_cache), bars=False)

        def warm() -> np.ndarray:
            with warm_context.active():
                return embed(args.model, texts, args.batch_size)

        warm()
        sides = {"raw": lambda: model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True),
                 "ours_cold": cold}
        times, values = alternate(sides, args.repeats)
        warm_times, _ = alternate({"ours_warm": warm}, args.repeats)
    raw_s, cold_s, warm_s = times["raw"]["median_s"], times["ours_cold"]["median_s"], warm_times["ours_warm"]["median_s"]
    write_result(args.out, {
        "suite": suite, "texts": len(texts), "model": args.model, "batch_size": args.batch_size, "repeats": args.repeats,
        "raw_encode_s": raw_s, "ours_cold_s": cold_s, "ours_warm_s": warm_s,
        "runs_s": {**{k: v["runs_s"] for k, v in times.items()}, "ours_warm": warm_times["ours_warm"]["runs_s"]},
        "raw_texts_per_s": len(texts) / raw_s, "ours_cold_texts_per_s": len(texts) / cold_s, "ours_warm_texts_per_s": len(texts) / warm_s,
        "cold_overhead_ratio": cold_s / raw_s, "warm_speedup_vs_raw": raw_s / warm_s,
        "max_abs_diff_vs_raw": float(np.abs(values["ours_cold"] - values["raw"]).max()),
    })
