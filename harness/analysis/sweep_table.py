"""The table a sweep ends with: per suite, its runs best first on the suite's headline metric, with the interval
and the paired test against the best, and the components that differ between runs (the ones every run shares
are said once). The full leaderboard (every metric, the HTML page, CSV) is ``ragsweep report``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragsweep.analysis.leaderboard import column_label, load_run_folders, n_queries, ranked_runs, suite_groups, suite_metrics
from ragsweep.analysis.report import metric_cell, versus_text
from ragsweep.commands.help_text import aligned

COMPONENTS = ("chunker", "retriever", "reranker", "generator", "judge", "assessor")


def suite_block(name: str, runs: list[dict[str, Any]]) -> list[str]:
    _, key = suite_metrics(runs, None, None)
    ranked, p_values = ranked_runs(runs, key)
    components = [(c, [str(r["metrics"]["components"].get(c, "")) for r in ranked]) for c in COMPONENTS]
    varying = [(c, values) for c, values in components if len(set(values)) > 1]
    shared = [f"{c} {values[0]}" for c, values in components if len(set(values)) == 1 and values[0] not in ("", "none")]
    head = [column_label(runs, key) if key else "(no metric)", *(["vs best"] if key else []), *(c for c, _ in varying)]
    rows = [head] + [
        [metric_cell(r["metrics"]["metrics"].get(key), n_queries(r)) if key else "", *([versus_text(i == 0, p)] if key else []),
         *(values[i] for _, values in varying)]
        for i, (r, p) in enumerate(zip(ranked, p_values))
    ]
    lines = [f"{name} ({n_queries(runs[0])} queries, {len(runs)} runs)" + (f"; every run: {', '.join(shared)}" if shared else "")]
    return lines + aligned(rows)


def sweep_table(run_folders: list[Path], runs_dir: Path, sweep: str) -> str:
    """The end-of-sweep table for the runs this sweep wrote (empty when none could be read)."""
    runs = load_run_folders(run_folders, runs_dir)
    if not runs:
        return ""
    blocks = ["\n".join(suite_block(name, group)) for name, group in suite_groups(runs)]
    return "\n\n".join([f"sweep {sweep}: mean ± half its 95% interval; vs best: paired test on the same queries", *blocks,
                        f"every metric, the HTML page and CSV: ragsweep report --sweep {sweep}"])
