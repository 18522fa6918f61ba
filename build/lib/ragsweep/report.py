"""``ragsweep report``: every run under results/runs into results/leaderboard.md.

One section per suite (metrics differ between suites), one row per run, one column per metric with
the half-width of its 95% bootstrap interval; rows sorted by ``--sort`` (default: the suite's first headline metric
present). Every number comes from a run's metrics.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import html
import math
from collections import Counter
from pathlib import Path
from typing import Any

from ragsweep.paths import results_root
from ragsweep.cache import atomic_write_bytes
from ragsweep.metrics.significance import paired_permutation_p

log = logging.getLogger("ragsweep.report")

# Shown when present, in this order after the suite's own headline metric (its default sort key).
HEADLINE_METRICS = (
    "section_hit@10", "section_multi_hit@10", "section_recall@10", "section_mrr@10", "section_multi_mrr@10",
    "doc_recall@5", "doc_mrr@10", "doc_ndcg@10",
    "span_iou@5", "span_recall@5", "span_precision@5", "precision_omega",
    "answer_f1", "answer_em", "citation_f1", "citation_doc_f1",
)


REQUIRED_KEYS = ("metrics", "summary", "choices", "components")


def load_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every readable run under ``runs_dir``; an unreadable one (truncated metrics.json, missing
    records.parquet) is named in a warning and left out, and the rest still render."""
    import pyarrow.parquet as pq

    runs = []
    for metrics_path in sorted(runs_dir.glob("*/*/metrics.json")):
        run_dir = metrics_path.parent
        try:
            metrics = json.loads(metrics_path.read_text("utf-8"))
            if not isinstance(metrics, dict) or any(k not in metrics for k in REQUIRED_KEYS):
                raise ValueError(f"metrics.json lacks {[k for k in REQUIRED_KEYS if k not in (metrics or {})]}")
            pq.read_metadata(run_dir / "records.parquet")
            run_json = run_dir / "run.json"
            info = json.loads(run_json.read_text("utf-8")) if run_json.exists() else {}
        except (OSError, ValueError, TypeError) as err:  # JSONDecodeError and ArrowInvalid are ValueErrors
            log.warning("skipping unreadable run %s: %s", run_dir, str(err).splitlines()[0] if str(err) else type(err).__name__)
            continue
        runs.append({"path": run_dir, "metrics": metrics, "info": info})
    return runs


def md_text(value: Any) -> str:
    """A value as Markdown table text: HTML escaped, ``|`` and newlines neutralised."""
    return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def n_queries(run: dict[str, Any]) -> int:
    return int(run["metrics"]["summary"]["n_queries"])


def _cell(stat: dict[str, float] | None, total: int | None = None) -> str:
    if not stat or stat.get("mean") is None or math.isnan(stat["mean"]):
        return ""
    text = f"{stat['mean']:.3f} ±{(stat['ci_high'] - stat['ci_low']) / 2:.3f}"
    if total is not None and stat.get("n") is not None and stat["n"] < total:
        text += f" n={stat['n']}/{total}"
    return text


def suite_groups(runs: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Runs grouped by the data they scored (metrics.json ``data_identity``: every query with its gold and
    every document), named by the task config; a name that covers several data sets gets the identity
    appended, so one section never mixes data sets and paired tests never pair different questions."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((str(r["metrics"]["choices"]["task"]), str(r["metrics"].get("data_identity", "unknown"))), []).append(r)
    per_name = Counter(name for name, _ in groups)
    return [
        (name if per_name[name] == 1 else f"{name} [data {identity[:8]}]", members)
        for (name, identity), members in sorted(groups.items())
    ]


def data_notes(runs: list[dict[str, Any]]) -> str:
    """What the suite's loading repaired or set aside (clipped or skipped references...), from run.json."""
    task = runs[0]["info"].get("task") or {}
    counts = {k: v for k, v in task.items() if isinstance(v, (int, str)) and not isinstance(v, bool) and v not in (0, "")}
    return "; ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


ALPHA = 0.05


def per_query(run: dict[str, Any], metric: str) -> dict[str, float]:
    import pandas as pd

    try:
        records = pd.read_parquet(run["path"] / "records.parquet", columns=["query_id", metric])
    except (OSError, ValueError, KeyError):  # the metric column is absent from this run, or the file went bad
        return {}
    return {q: float(v) for q, v in zip(records["query_id"], records[metric]) if v is not None and v == v}


def versus_best(runs: list[dict[str, Any]], metric: str) -> list[float | None]:
    """Paired sign-flip p-value of each run against the first (best) on ``metric`` over the queries both
    scored; callers pass runs of one data-identity group (suite_groups), so a query id names the same
    question in both. None for the best itself, and where no query is shared."""
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


def suite_metrics(runs: list[dict[str, Any]], sort: str | None, columns: tuple[str, ...] | None) -> tuple[list[str], str | None]:
    """(metric columns present in the suite's runs; the sort key). ``columns`` None: the default set,
    led by the suite's headline metric, which is then also the default sort key."""
    headline = suite_headline(runs)
    lead = [headline] if headline and columns is None else []
    order = lead + [m for m in (columns or HEADLINE_METRICS) if m not in lead]
    present = [m for m in order if any(m in r["metrics"]["metrics"] for r in runs)]
    return present, sort if sort in present else (present[0] if present else None)


def ranked_runs(runs: list[dict[str, Any]], key: str | None) -> tuple[list[dict[str, Any]], list[float | None]]:
    """Runs best first on ``key``, with each run's paired p-value against the best (None for the best)."""
    if not key:
        return runs, [None] * len(runs)
    runs = sorted(runs, key=lambda r: -r["metrics"]["metrics"].get(key, {}).get("mean", float("-inf")))
    return runs, versus_best(runs, key) if key in runs[0]["metrics"]["metrics"] else [None] * len(runs)


def suite_table(runs: list[dict[str, Any]], sort: str | None, columns: tuple[str, ...] | None = None) -> list[str]:
    present, key = suite_metrics(runs, sort, columns)
    runs, p_values = ranked_runs(runs, key)
    header = ["sweep", "chunker", "retriever", "reranker", "generator", *present, "chunks", "mean chunk chars", "latency s/q", "vs best"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r, p in zip(runs, p_values):
        m, comp, summary = r["metrics"], r["metrics"]["components"], r["metrics"]["summary"]
        latency = summary.get("mean_latency_s")
        row = [
            *(md_text(v) for v in (m.get("sweep", ""), comp["chunker"], comp["retriever"], comp["reranker"], comp["generator"])),
            *(_cell(m["metrics"].get(name), n_queries(r)) for name in present),
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
        f"from the best (p >= {ALPHA}). n=a/b: the metric scored a of the b queries (the others lack its gold "
        f"or their answer or verdict failed: see run.json)."
    )
    return lines


def render(runs: list[dict[str, Any]], sort: str | None = None, columns: tuple[str, ...] | None = None) -> str:
    lines = ["# ragsweep leaderboard", ""]
    if not runs:
        return "\n".join(lines + ["No runs under results/runs yet: run `make run-sweep`.", ""])
    for suite, suite_runs in suite_groups(runs):
        lines += [f"## {md_text(suite)} ({n_queries(suite_runs[0])} queries, {len(suite_runs)} runs)", ""]
        if notes := data_notes(suite_runs):
            lines += [f"Data: {md_text(notes)}", ""]
        lines += suite_table(suite_runs, sort, columns)
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=Path, default=results_root() / "runs")
    parser.add_argument("--out", type=Path, default=results_root() / "leaderboard.md")
    parser.add_argument("--html", type=Path, default=None, help="also write the HTML page (default: --out with .html)")
    parser.add_argument("--sort", default=None, help="metric to sort by, e.g. span_iou@5")
    parser.add_argument("--sweep", default=None, help="only runs of these sweeps (comma-separated)")
    parser.add_argument("--metrics", default=None, help="columns to show (comma-separated), instead of the headline set")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sweeps = set(args.sweep.split(",")) if args.sweep else None
    runs = [r for r in load_runs(args.runs) if sweeps is None or r["metrics"].get("sweep") in sweeps]
    columns = tuple(args.metrics.split(",")) if args.metrics else None
    text = render(runs, args.sort, columns)
    atomic_write_bytes(args.out, text.encode("utf-8"))
    from ragsweep.report_html import render_html

    html_path = args.html or args.out.with_suffix(".html")
    atomic_write_bytes(html_path, render_html(runs, args.sort, columns).encode("utf-8"))
    log.info("%s\nwrote %s and %s (%d runs)", text, args.out, html_path, len(runs))
