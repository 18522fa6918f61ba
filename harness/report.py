"""``python -m harness.report``: every run under results/runs into results/leaderboard.md.

One section per suite (metrics differ between suites), one row per run, one column per metric with
the half-width of its 95% bootstrap interval; rows sorted by ``--sort`` (default: the suite's first headline metric
present). Every number comes from a run's metrics.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

from harness.cache import atomic_write_bytes
from metrics.significance import paired_permutation_p

log = logging.getLogger("harness.report")

# Shown when present, in this order after the suite's own headline metric (its default sort key).
HEADLINE_METRICS = (
    "section_hit@10", "section_multi_hit@10", "section_recall@10", "section_mrr@10", "section_multi_mrr@10",
    "doc_recall@5", "doc_mrr@10", "doc_ndcg@10",
    "span_iou@5", "span_recall@5", "span_precision@5", "precision_omega",
    "answer_f1", "answer_em",
)


def load_runs(runs_dir: Path) -> list[dict[str, Any]]:
    runs = []
    for metrics_path in sorted(runs_dir.glob("*/*/metrics.json")):
        metrics = json.loads(metrics_path.read_text("utf-8"))
        run_json = metrics_path.with_name("run.json")
        info = json.loads(run_json.read_text("utf-8")) if run_json.exists() else {}
        runs.append({"path": metrics_path.parent, "metrics": metrics, "info": info})
    return runs


def _cell(stat: dict[str, float] | None) -> str:
    if not stat or stat.get("mean") is None or math.isnan(stat["mean"]):
        return ""
    return f"{stat['mean']:.3f} ±{(stat['ci_high'] - stat['ci_low']) / 2:.3f}"


ALPHA = 0.05


def per_query(run: dict[str, Any], metric: str) -> dict[str, float]:
    import pandas as pd

    records = pd.read_parquet(run["path"] / "records.parquet")
    if metric not in records:
        return {}
    return {q: float(v) for q, v in zip(records["query_id"], records[metric]) if v == v}


def versus_best(runs: list[dict[str, Any]], metric: str) -> list[float | None]:
    """Paired sign-flip p-value of each run against the first (best) on ``metric`` over shared queries;
    None for the best itself. A p at or above ALPHA: not significantly different from the best."""
    best = per_query(runs[0], metric)
    out: list[float | None] = [None]
    for r in runs[1:]:
        mine = per_query(r, metric)
        shared = sorted(set(best) & set(mine))
        out.append(paired_permutation_p([mine[q] for q in shared], [best[q] for q in shared]) if shared else None)
    return out


def suite_headline(runs: list[dict[str, Any]]) -> str | None:
    """The headline metric most of a suite's runs name (older runs may name none)."""
    named = Counter(r["metrics"].get("headline") for r in runs if r["metrics"].get("headline"))
    return named.most_common(1)[0][0] if named else None


def suite_metrics(runs: list[dict[str, Any]], sort: str | None, columns: tuple[str, ...]) -> tuple[list[str], str | None]:
    """(metric columns present in the suite's runs, the suite's headline first; the sort key)."""
    headline = suite_headline(runs)
    lead = [headline] if headline and columns is HEADLINE_METRICS else []
    order = lead + [m for m in columns if m not in lead]
    present = [m for m in order if any(m in r["metrics"]["metrics"] for r in runs)]
    return present, sort if sort in present else (present[0] if present else None)


def ranked_runs(runs: list[dict[str, Any]], key: str | None) -> tuple[list[dict[str, Any]], list[float | None]]:
    """Runs best first on ``key``, with each run's paired p-value against the best (None for the best)."""
    if not key:
        return runs, [None] * len(runs)
    runs = sorted(runs, key=lambda r: -r["metrics"]["metrics"].get(key, {}).get("mean", float("-inf")))
    return runs, versus_best(runs, key) if key in runs[0]["metrics"]["metrics"] else [None] * len(runs)


def suite_table(runs: list[dict[str, Any]], sort: str | None, columns: tuple[str, ...] = HEADLINE_METRICS) -> list[str]:
    present, key = suite_metrics(runs, sort, columns)
    runs, p_values = ranked_runs(runs, key)
    header = ["sweep", "chunker", "retriever", "reranker", "generator", *present, "chunks", "mean chunk chars", "latency s/q", "vs best"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r, p in zip(runs, p_values):
        m, comp, summary = r["metrics"], r["metrics"]["components"], r["metrics"]["summary"]
        latency = summary.get("mean_latency_s")
        row = [
            m.get("sweep", ""),
            comp["chunker"], comp["retriever"], comp["reranker"], comp["generator"],
            *(_cell(m["metrics"].get(name)) for name in present),
            str(summary["n_chunks"]),
            f"{summary['mean_chunk_chars']:.0f}",
            f"{latency:.3f}" if latency is not None else "",
            "best" if r is runs[0] and key else ("" if p is None else (f"≈ p={p:.2f}" if p >= ALPHA else f"worse p={p:.3f}")),
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(
        f"Sorted by {key or 'run name'}; cells are mean over queries ± half the width of its 95% bootstrap interval. "
        f"vs best: paired sign-flip test on {key} over the same queries; ≈ marks runs not significantly different "
        f"from the best (p >= {ALPHA})."
    )
    return lines


def render(runs: list[dict[str, Any]], sort: str | None = None, columns: tuple[str, ...] = HEADLINE_METRICS) -> str:
    lines = ["# ragsweep leaderboard", ""]
    if not runs:
        return "\n".join(lines + ["No runs under results/runs yet: run `make run-sweep`.", ""])
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_suite.setdefault(r["metrics"]["choices"]["task"], []).append(r)
    for suite, suite_runs in sorted(by_suite.items()):
        n = suite_runs[0]["metrics"]["summary"]["n_queries"]
        lines += [f"## {suite} ({n} queries, {len(suite_runs)} runs)", ""]
        lines += suite_table(suite_runs, sort, columns)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, default=Path("results/runs"))
    parser.add_argument("--out", type=Path, default=Path("results/leaderboard.md"))
    parser.add_argument("--html", type=Path, default=None, help="also write the HTML page (default: --out with .html)")
    parser.add_argument("--sort", default=None, help="metric to sort by, e.g. span_iou@5")
    parser.add_argument("--sweep", default=None, help="only runs of these sweeps (comma-separated)")
    parser.add_argument("--metrics", default=None, help="columns to show (comma-separated), instead of the headline set")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sweeps = set(args.sweep.split(",")) if args.sweep else None
    runs = [r for r in load_runs(args.runs) if sweeps is None or r["metrics"].get("sweep") in sweeps]
    text = render(runs, args.sort, tuple(args.metrics.split(",")) if args.metrics else HEADLINE_METRICS)
    atomic_write_bytes(args.out, text.encode("utf-8"))
    from harness.report_html import render_html

    html_path = args.html or args.out.with_suffix(".html")
    atomic_write_bytes(html_path, render_html(runs, args.sort, tuple(args.metrics.split(",")) if args.metrics else HEADLINE_METRICS).encode("utf-8"))
    log.info("%s\nwrote %s and %s (%d runs)", text, args.out, html_path, len(runs))


if __name__ == "__main__":
    main()
