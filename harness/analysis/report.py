"""``ragsweep report``: the runs under results/runs into results/leaderboard.{md,html} (and ``--csv``).

One section per suite (metrics differ between suites), one row per run, one column per metric with
the half-width of its 95% bootstrap interval; rows sorted by ``--sort`` (default: the suite's first headline metric
present), the paired test against the best beside the sort column. Every number comes from a run's
metrics.json. Shown by default: every sweep except ``adhoc`` (single runs); ``--sweep all`` shows every sweep.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import html
import math
from pathlib import Path
from typing import Any

from ragsweep.analysis.leaderboard import (
    ALPHA, SERVING_COLUMNS, column_label, data_notes, extra_tables, judge_notes, load_runs, n_queries, ppi_rows, ranked_runs, select_sweeps, suite_groups,
    suite_metrics,
)
from ragsweep.analysis.ppi_columns import PPI_HEADER, PPI_NOTE
from ragsweep.analysis.report_html import render_html
from ragsweep.paths import results_root
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.errors import ConfigError, did_you_mean
from ragsweep.store.results import RESULTS_ADVICE
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.analysis.report")


def md_text(value: Any) -> str:
    """A value as Markdown table text: HTML escaped, ``|`` and newlines neutralised."""
    return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def metric_cell(stat: dict[str, float] | None, total: int | None = None) -> str:
    if not stat or stat.get("mean") is None or math.isnan(stat["mean"]):
        return ""
    text = f"{stat['mean']:.3f} ±{(stat['ci_high'] - stat['ci_low']) / 2:.3f}"
    if total is not None and stat.get("n") is not None and stat["n"] < total:
        text += f" n={stat['n']}/{total}"
    return text


def versus_text(is_best: bool, p: float | None) -> str:
    """The paired test's verdict; a p-value under the 3 decimals shown reads "p<0.001", never "p=0.000"."""
    if is_best or p is None:
        return "best" if is_best else ""
    return f"≈ p={p:.2f}" if p >= ALPHA else ("worse p<0.001" if p < 0.001 else f"worse p={p:.3f}")


def suite_table(runs: list[dict[str, Any]], sort: str | None, columns: tuple[str, ...] | None = None) -> list[str]:
    present, key = suite_metrics(runs, sort, columns)
    runs, p_values = ranked_runs(runs, key)
    # The sort metric and the test against the best come right after the sweep, before the (long) component
    # descriptions, so both stay in view.
    ordered = ([key] if key else []) + [m for m in present if m != key]
    labels = [md_text(column_label(runs, m)) for m in ordered]
    # Serving cost columns only where some run's backend reported it (vLLM in process or a server that says).
    serving = [(f, label) for f, label in SERVING_COLUMNS if any(r["metrics"]["summary"].get(f) is not None for r in runs)]
    header = ["sweep", *labels[:1], *(["vs best"] if key else []), "chunker", "retriever", "reranker", "generator", *labels[1:],
              "chunks", "mean chunk chars", "latency s/q", *(label for _, label in serving)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r, p in zip(runs, p_values):
        m, comp, summary = r["metrics"], r["metrics"]["components"], r["metrics"]["summary"]
        latency = summary.get("mean_latency_s")
        cells = [metric_cell(m["metrics"].get(name), n_queries(r)) for name in ordered]
        row = [
            md_text(m.get("sweep", "")), *cells[:1], *([versus_text(r is runs[0], p)] if key else []),
            *(md_text(v) for v in (comp["chunker"], comp["retriever"], comp["reranker"], comp["generator"])), *cells[1:],
            str(summary["n_chunks"]),
            f"{summary['mean_chunk_chars']:.0f}",
            f"{latency:.3f}" if latency is not None else "",
            *("" if summary.get(f) is None else f"{summary[f]:.3f}" for f, _ in serving),
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(
        f"Sorted by {key or 'run name'}; cells are mean over queries ± half the width of its 95% bootstrap interval. "
        f"vs best: paired sign-flip test on {key} over the same queries; ≈ marks runs not significantly different "
        f"from the best (p >= {ALPHA}). n=a/b: the metric scored a of the b queries (the others lack its gold "
        f"or their answer or verdict failed: see run.json)."
    )
    for table in extra_tables(runs, key):
        lines += ["", md_text(table["note"]), "", "| " + " | ".join(table["header"]) + " |", "|" + "---|" * len(table["header"])]
        lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in table["rows"]]
    if notes := judge_notes(runs, ordered):
        lines += ["", "Judges (agreement with human labels, measured by `ragsweep judge-eval`):", ""] + [f"- {md_text(n)}" for n in notes]
    if corrected := ppi_rows(runs, ordered):
        lines += ["", PPI_NOTE, "", "| " + " | ".join(PPI_HEADER) + " |", "|" + "---|" * len(PPI_HEADER)]
        lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in corrected]
    return lines


def render(runs: list[dict[str, Any]], sort: str | None = None, columns: tuple[str, ...] | None = None, sweeps_note: str = "") -> str:
    lines = ["# ragsweep leaderboard", ""] + ([md_text(sweeps_note), ""] if sweeps_note else [])
    if not runs:
        return "\n".join(lines + ["No runs to show yet: run `ragsweep sweep default` (or `make run-sweep`).", ""])
    for suite, suite_runs in suite_groups(runs):
        lines += [f"## {md_text(suite)} ({n_queries(suite_runs[0])} queries, {len(suite_runs)} runs)", ""]
        if notes := data_notes(suite_runs):
            lines += [f"Data: {md_text(notes)}", ""]
        lines += suite_table(suite_runs, sort, columns)
        lines.append("")
    return "\n".join(lines)


STAT_FIELDS = ("mean", "ci_low", "ci_high", "n")
CSV_SUMMARY = ("n_queries", "n_chunks", "mean_chunk_chars", "mean_latency_s", "prompt_tokens", "completion_tokens", "cost_usd",
               *(field for field, _ in SERVING_COLUMNS))


def render_csv(runs: list[dict[str, Any]], sort: str | None = None) -> str:
    """One row per run: suite, data identity, components, every metric any run of the table has (mean,
    interval, n), the cost summary and the paired p-value against its suite's best on the sort metric."""
    metrics = sorted({m for r in runs for m in r["metrics"]["metrics"]})
    header = ["suite", "data_identity", "run", "sweep", "chunker", "retriever", "reranker", "generator", "judge", "sort_metric", "vs_best_p",
              *(f"{m}:{f}" for m in metrics for f in STAT_FIELDS), *CSV_SUMMARY]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(header)
    for suite, suite_runs in suite_groups(runs):
        _, key = suite_metrics(suite_runs, sort, None)
        ranked, p_values = ranked_runs(suite_runs, key)
        for rank, (r, p) in enumerate(zip(ranked, p_values)):
            m = r["metrics"]
            stats = [(m["metrics"].get(name) or {}).get(f) for name in metrics for f in STAT_FIELDS]
            out.writerow([
                suite, m.get("data_identity", ""), r["path"].name, m.get("sweep", ""), *(m["components"].get(g, "") for g in ("chunker", "retriever", "reranker", "generator", "judge")),
                key or "", "best" if rank == 0 and key else ("" if p is None else p),
                *("" if v is None else v for v in stats), *(m["summary"].get(f, "") for f in CSV_SUMMARY),
            ])
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep report", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=results_root() / "runs", help="the runs folder (default: <results>/runs)")
    parser.add_argument("--out", type=Path, default=results_root() / "leaderboard.md", help="the Markdown leaderboard's path; the HTML page (and CSV) go beside it")
    parser.add_argument("--html", type=Path, default=None, help="the HTML page (default: --out with .html)")
    parser.add_argument("--csv", type=Path, nargs="?", const=True, default=None, help="also write a CSV, one row per run (default path: --out with .csv)")
    parser.add_argument("--sort", default=None, help="metric to sort by, e.g. span_iou@5")
    parser.add_argument("--sweep", default=None, help="sweeps to show, comma-separated, or 'all' (default: every sweep but adhoc)")
    parser.add_argument("--metrics", default=None, help="columns to show (comma-separated), instead of the headline set")
    args = parser.parse_args(argv)
    setup_logging()
    runs, note = select_sweeps(load_runs(args.runs), args.sweep)
    known = sorted({name for r in runs for name in r["metrics"].get("metrics", {})})
    for name in ([args.sort] if args.sort else []) + (args.metrics.split(",") if args.metrics else []):
        if runs and name not in known:
            raise ConfigError(f"no run shown has metric {name!r}: {did_you_mean(name, known)}(known: {', '.join(known)})")
    if not runs and args.out.exists():
        raise ConfigError(f"no runs to show: {args.out} is left as it was (a report never replaces a leaderboard with an empty one)")
    columns = tuple(args.metrics.split(",")) if args.metrics else None
    text = render(runs, args.sort, columns, note)
    atomic_write_bytes(args.out, text.encode("utf-8"), RESULTS_ADVICE)
    html_path = args.html or args.out.with_suffix(".html")
    atomic_write_bytes(html_path, render_html(runs, args.sort, columns, note).encode("utf-8"), RESULTS_ADVICE)
    written = [args.out, html_path]
    if args.csv:
        csv_path = args.out.with_suffix(".csv") if args.csv is True else args.csv
        atomic_write_bytes(csv_path, render_csv(runs, args.sort).encode("utf-8"), RESULTS_ADVICE)
        written.append(csv_path)
    print(text, flush=True)  # the table on stdout, the log line on stderr
    log.info("wrote %s (%d runs)", ", ".join(map(str, written)), len(runs))
