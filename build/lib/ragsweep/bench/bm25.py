"""BM25 index and query throughput: our sparse backend vs rank-bm25 on the same chunks and queries,
measured in one run, plus a check that both return the same top-10. Writes results/bench/bm25.json."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ragsweep.paths import results_root
from ragsweep.bench.common import bench_suite, write_result
from ragsweep.retrievers.bm25 import BM25Retriever

log = logging.getLogger("ragsweep.bench.bm25")


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=results_root() / "bench" / "bm25.json")
    parser.add_argument("--query-repeats", type=int, default=3, help="query the set this many times (steadier timing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    suite, chunks, queries = bench_suite()
    questions = [q.question for q in queries] * args.query_repeats
    result: dict = {"suite": suite, "chunks": len(chunks), "queries": len(questions)}
    tops = {}
    for backend in ("sparse", "rank_bm25"):
        retriever = BM25Retriever(backend=backend)
        index, index_s = timed(lambda: retriever.index(chunks))
        ranked, query_s = timed(lambda: retriever.search(index, questions, 10))
        tops[backend] = [[i for i, _ in r] for r in ranked]
        result[backend] = {"index_s": index_s, "query_s": query_s, "queries_per_s": len(questions) / query_s}
    result["query_speedup_vs_rank_bm25"] = result["sparse"]["queries_per_s"] / result["rank_bm25"]["queries_per_s"]
    result["index_speedup_vs_rank_bm25"] = result["rank_bm25"]["index_s"] / result["sparse"]["index_s"]
    result["same_top10"] = sum(a == b for a, b in zip(tops["sparse"], tops["rank_bm25"])) / len(questions)
    write_result(args.out, result)
