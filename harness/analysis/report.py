"""``ragsweep report``: the runs under results/runs into results/leaderboard.{md,html} (and ``--csv``).

One section per suite (metrics differ between suites), one row per run, one column per metric with
the half-width of its 95% bootstrap interval; rows sorted by ``--sort`` (default: the suite's first headline metric
present), the paired test against the best beside the sort column. Every number comes from a run's
metrics.json. Shown by default: every sweep except ``adhoc`` (single runs); ``--sweep all`` shows every sweep.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import logging
import html
import math
from collections import Counter
from pathlib import Path
from typing import Any

from ragsweep.paths import results_root
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.metrics.significance import paired_permutation_p
from ragsweep.errors import ConfigError
from ragsweep.store.results import RESULTS_ADVICE, headline_names, lower_is_better

log = logging.getLogger("ragsweep.analysis.report")

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
    defaults = list(dict.fromkeys(n for r in runs for n in headline_names(r["metrics"], own=False)))
    order = lead + [m for m in (columns or defaults) if m not in lead]
    present = [m for m in order if any(m in r["metrics"]["metrics"] for r in runs)]
    return present, sort if sort in present else (present[0] if present else None)


def ranked_runs(runs: list[dict[str, Any]], key: str | None) -> tuple[list[dict[str, Any]], list[float | None]]:
    """Runs best first on ``key``, with each run's paired p-value against the best (None for the best)."""
    if not key:
        return runs, [None] * len(runs)
    sign = 1.0 if lower_is_better([r["metrics"] for r in runs], key) else -1.0  # best first either way
    runs = sorted(runs, key=lambda r: sign * r["metrics"]["metrics"].get(key, {}).get("mean", -sign * float("inf")))
    return runs, versus_best(runs, key) if key in runs[0]["metrics"]["metrics"] else [None] * len(runs)


def versus_text(is_best: bool, p: float | None) -> str:
    return "best" if is_best else ("" if p is None else (f"≈ p={p:.2f}" if p >= ALPHA else f"worse p={p:.3f}"))


def suite_table(runs: list[dict[str, Any]], sort: str | None, columns: tuple[str, ...] | None = None) -> list[str]:
    present, key = suite_metrics(runs, sort, columns)
    runs, p_values = ranked_runs(runs, key)
    # The sort metric and the test against the best come right after the sweep, before the (long) component
    # descriptions, so both stay in view.
    ordered = ([key] if key else []) + [m for m in present if m != key]
    header = ["sweep", *ordered[:1], *(["vs best"] if key else []), "chunker", "retriever", "reranker", "generator", *ordered[1:],
              "chunks", "mean chunk chars", "latency s/q"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r, p in zip(runs, p_values):
        m, comp, summary = r["metrics"], r["metrics"]["components"], r["metrics"]["summary"]
        latency = summary.get("mean_latency_s")
        cells = [_cell(m["metrics"].get(name), n_queries(r)) for name in ordered]
        row = [
            md_text(m.get("sweep", "")), *cells[:1], *([versus_text(r is runs[0], p)] if key else []),
            *(md_text(v) for v in (comp["chunker"], comp["retriever"], comp["reranker"], comp["generator"])), *cells[1:],
            str(summary["n_chunks"]),
            f"{summary['mean_chunk_chars']:.0f}",
            f"{latency:.3f}" if latency is not None else "",
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


def select_sweeps(runs: list[dict[str, Any]], sweeps: str | None) -> tuple[list[dict[str, Any]], str]:
    """(the runs to show, a line saying which sweeps are shown and which are left out). ``sweeps``:
    None (every sweep but ``adhoc``), ``all``, or comma-separated sweep names."""
    counts = Counter(str(r["metrics"].get("sweep")) for r in runs)
    if sweeps == "all":
        wanted = set(counts)
    elif sweeps:
        wanted = set(sweeps.split(","))
        unknown = sorted(wanted - set(counts))
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(counts), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"no runs of sweep {unknown[0]!r}: {hint}(sweeps with runs: {', '.join(sorted(counts)) or 'none'})")
    else:
        wanted = set(counts) - {"adhoc"}
    shown = [r for r in runs if str(r["metrics"].get("sweep")) in wanted]
    left = sorted(set(counts) - wanted)
    note = f"Sweeps shown: {', '.join(f'{s} ({counts[s]})' for s in sorted(wanted & set(counts))) or 'none'}"
    if left:
        note += f"; left out: {', '.join(f'{s} ({counts[s]})' for s in left)} (`ragsweep report --sweep all` shows every sweep)"
    return shown, note + "."


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
CSV_SUMMARY = ("n_queries", "n_chunks", "mean_chunk_chars", "mean_latency_s", "prompt_tokens", "completion_tokens", "cost_usd")


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=results_root() / "runs")
    parser.add_argument("--out", type=Path, default=results_root() / "leaderboard.md")
    parser.add_argument("--html", type=Path, default=None, help="the HTML page (default: --out with .html)")
    parser.add_argument("--csv", type=Path, nargs="?", const=True, default=None, help="also write a CSV, one row per run (default path: --out with .csv)")
    parser.add_argument("--sort", default=None, help="metric to sort by, e.g. span_iou@5")
    parser.add_argument("--sweep", default=None, help="sweeps to show, comma-separated, or 'all' (default: every sweep but adhoc)")
    parser.add_argument("--metrics", default=None, help="columns to show (comma-separated), instead of the headline set")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs, note = select_sweeps(load_runs(args.runs), args.sweep)
    known = sorted({name for r in runs for name in r["metrics"].get("metrics", {})})
    for name in ([args.sort] if args.sort else []) + (args.metrics.split(",") if args.metrics else []):
        if runs and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            raise ConfigError(f"no run shown has metric {name!r}: {f'did you mean {close[0]!r}? ' if close else ''}(known: {', '.join(known)})")
    if not runs and args.out.exists():
        raise ConfigError(f"no runs to show: {args.out} is left as it was (a report never replaces a leaderboard with an empty one)")
    columns = tuple(args.metrics.split(",")) if args.metrics else None
    text = render(runs, args.sort, columns, note)
    atomic_write_bytes(args.out, text.encode("utf-8"), RESULTS_ADVICE)
    from ragsweep.analysis.report_html import render_html

    html_path = args.html or args.out.with_suffix(".html")
    atomic_write_bytes(html_path, render_html(runs, args.sort, columns, note).encode("utf-8"), RESULTS_ADVICE)
    written = [args.out, html_path]
    if args.csv:
        csv_path = args.out.with_suffix(".csv") if args.csv is True else args.csv
        atomic_write_bytes(csv_path, render_csv(runs, args.sort).encode("utf-8"), RESULTS_ADVICE)
        written.append(csv_path)
    log.info("%s\nwrote %s (%d runs)", text, ", ".join(map(str, written)), len(runs))
