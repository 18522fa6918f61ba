"""BM25 index and query throughput: our sparse backend vs rank-bm25 on the same chunks and queries,
measured in one run, the two sides alternating and repeated (medians), plus a check that both return the
same top-10. Writes results/bench/bm25.json."""

from __future__ import annotations

import argparse
import logging

from ragsweep.bench.common import alternate, bench_suite, out_file, positive_int, write_result
from ragsweep.paths import results_root
from ragsweep.retrievers.bm25 import BM25Retriever
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.bm25")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench bm25", description=plain_doc(__doc__))
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "bm25.json", help="where the result goes (default: <results>/bench/bm25.json)")
    parser.add_argument("--repeats", type=positive_int, default=5, help="timings per side, alternating")
    args = parser.parse_args(argv)
    setup_logging()
    suite, chunks, queries = bench_suite()
    questions = [q.question for q in queries]
    retrievers = {backend: BM25Retriever(backend=backend) for backend in ("sparse", "rank_bm25")}
    index_times, indexes = alternate({b: (lambda r=r: r.index(chunks)) for b, r in retrievers.items()}, args.repeats)
    query_times, ranked = alternate({b: (lambda b=b, r=r: r.search(indexes[b], questions, 10)) for b, r in retrievers.items()}, args.repeats)
    tops = {b: [[i for i, _ in r] for r in ranked[b]] for b in retrievers}
    result: dict = {"suite": suite, "chunks": len(chunks), "queries": len(questions), "repeats": args.repeats}
    for b in retrievers:
        result[b] = {"index_s": index_times[b]["median_s"], "query_s": query_times[b]["median_s"],
                     "queries_per_s": len(questions) / query_times[b]["median_s"],
                     "index_runs_s": index_times[b]["runs_s"], "query_runs_s": query_times[b]["runs_s"]}
    result["query_speedup_vs_rank_bm25"] = result["sparse"]["queries_per_s"] / result["rank_bm25"]["queries_per_s"]
    result["index_speedup_vs_rank_bm25"] = result["rank_bm25"]["index_s"] / result["sparse"]["index_s"]
    result["same_top10"] = sum(a == b for a, b in zip(tops["sparse"], tops["rank_bm25"])) / len(questions)
    write_result(args.out, result)
