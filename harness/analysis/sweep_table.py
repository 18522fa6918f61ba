"""The table a sweep ends with: per suite, its runs best first on what the sweep was for, with the interval and
the paired test against the best, the components that differ between runs (the ones every run shares are said
once), and the one component change that moves the ranking metric most (its main effect). What the sweep was for
is its ``rank_by`` (a generation sweep: the answer metric; a TREC sweep: judged nDCG and vital nugget recall), each
column with its interval, ranked by the first; without it, the suite's headline metric. The full leaderboard
(every metric, the HTML page, CSV) is ``ragsweep report``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from ragsweep.analysis.leaderboard import COMPONENTS, column_label, component_effects, load_run_folders, n_queries, ranked_runs, suite_groups, suite_metrics
from ragsweep.analysis.report import metric_cell, versus_text
from ragsweep.help_text import aligned

log = logging.getLogger(__name__)

def ranking_columns(name: str, runs: list[dict[str, Any]], rank_by: Sequence[str]) -> list[str]:
    """The columns of ``rank_by`` the suite's runs hold, in order; the suite's headline metric where none is."""
    present = [c for c in rank_by if any(c in r["metrics"]["metrics"] for r in runs)]
    if rank_by and not present:
        log.warning("%s: no run holds any of rank_by %s: ranked by the suite's headline metric", name, ", ".join(rank_by))
    if present:
        return present
    _, key = suite_metrics(runs, None, None)
    return [key] if key else []


def suite_block(name: str, runs: list[dict[str, Any]], rank_by: Sequence[str] = ()) -> list[str]:
    columns = ranking_columns(name, runs, rank_by)
    key = columns[0] if columns else None
    ranked, p_values = ranked_runs(runs, key)
    components = [(c, [str(r["metrics"]["components"].get(c, "")) for r in ranked]) for c in COMPONENTS]
    varying = [(c, values) for c, values in components if len(set(values)) > 1]
    shared = [f"{c} {values[0]}" for c, values in components if len(set(values)) == 1 and values[0] not in ("", "none")]
    head = [column_label(runs, key) if key else "(no metric)", *(["vs best"] if key else []), *(column_label(runs, c) for c in columns[1:]),
            *(c for c, _ in varying)]
    rows = [head] + [
        [metric_cell(r["metrics"]["metrics"].get(key), n_queries(r)) if key else "", *([versus_text(i == 0, p)] if key else []),
         *(metric_cell(r["metrics"]["metrics"].get(c), n_queries(r)) for c in columns[1:]), *(values[i] for _, values in varying)]
        for i, (r, p) in enumerate(zip(ranked, p_values))
    ]
    lines = [f"{name} ({n_queries(runs[0])} queries, {len(runs)} runs)" + (f"; every run: {', '.join(shared)}" if shared else "")]
    change = change_line(ranked, key) if key else None
    return lines + aligned(rows) + ([change] if change else [])


def change_line(runs: list[dict[str, Any]], key: str) -> str | None:
    """The one component change that moves ``key`` most the right way (its main effect), or None."""
    effects = component_effects(runs, key)
    if not effects:
        return None
    e = effects[0]
    held = " (its interval holds 0: no change is shown to help)" if e.low <= 0 <= e.high else ""
    return (f"what to change: {e.factor} {e.from_level} -> {e.to_level} moves {column_label(runs, key)} most, {e.estimate:+.4f} "
            f"[{e.low:+.4f}, {e.high:+.4f}], averaged over the other components ({e.pairs} pair{'s' if e.pairs != 1 else ''} of runs, "
            f"{e.queries} queries){held}")


def sweep_table(run_folders: list[Path], runs_dir: Path, sweep: str, rank_by: Sequence[str] = ()) -> str:
    """The end-of-sweep table for the runs this sweep wrote (empty when none could be read)."""
    runs = load_run_folders(run_folders, runs_dir)
    if not runs:
        return ""
    blocks = ["\n".join(suite_block(name, group, rank_by)) for name, group in suite_groups(runs)]
    return "\n\n".join([f"sweep {sweep}: mean ± half its 95% interval; vs best: paired test on the same queries", *blocks,
                        f"every metric, the HTML page and CSV: ragsweep report --sweep {sweep}"])
