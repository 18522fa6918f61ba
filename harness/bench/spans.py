"""Span-metric scoring throughput: span recall/precision/IoU at k=5 and Precision-Omega over every
query of the bench suite, each pass repeated (the two metrics taking turns; medians). Writes results/bench/spans.json."""

from __future__ import annotations

import argparse
import logging

from ragsweep.paths import results_root
from ragsweep.bench.common import alternate, bench_suite, out_file, positive_int, write_result
from ragsweep.retrievers.bm25 import BM25Retriever
from ragsweep.metrics.spans import precision_omega, span_scores
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.spans")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench spans", description=plain_doc(__doc__))
    parser.add_argument("--repeats", type=positive_int, default=20, help="timings per side, alternating")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "spans.json", help="where the result goes (default: <results>/bench/spans.json)")
    args = parser.parse_args(argv)
    setup_logging()
    suite, chunks, queries = bench_suite()
    retriever = BM25Retriever()
    ranked = retriever.search(retriever.index(chunks), [q.question for q in queries], 5)
    by_doc: dict[str, list] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c.span)
    cases = [([chunks[i].span for i, _ in r], q.gold_spans, [s for d in sorted({g.doc_id for g in q.gold_spans}) for s in by_doc[d]])
             for q, r in zip(queries, ranked)]
    def scores() -> None:
        for retrieved, gold, _ in cases:
            span_scores(retrieved, gold)

    def omega() -> None:
        for _, gold, corpus in cases:
            precision_omega(corpus, gold)

    times, _ = alternate({"span_scores": scores, "precision_omega": omega}, args.repeats)
    scores_s, omega_s = times["span_scores"]["median_s"], times["precision_omega"]["median_s"]
    n = len(cases)
    write_result(args.out, {
        "suite": suite, "queries": len(cases), "repeats": args.repeats, "chunks": len(chunks),
        "span_scores_per_s": n / scores_s, "precision_omega_per_s": n / omega_s, "runs_s": {k: v["runs_s"] for k, v in times.items()},
    })
