"""The leaderboard's model: run folders read and checked, sweeps chosen, runs grouped by data set and ranked
on a suite's metric with a paired test against the best. The Markdown, CSV (ragsweep.analysis.report) and
HTML (ragsweep.analysis.report_html) renderings are built from it."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError, DataError, did_you_mean
from ragsweep.judges.calibration import UNCALIBRATED, calibration_reports, calibration_text, find_calibration, statistic_text
from ragsweep.store.run_folder import LEADERBOARD_KEYS, RunFolder
from ragsweep.metrics.effects import Interaction, MainEffect, interactions, main_effects
from ragsweep.metrics.headroom import gap_closed
from ragsweep.metrics.significance import paired_permutation_p
from ragsweep.scoring.records import headline_names
from ragsweep.store.results import lower_is_better

log = logging.getLogger("ragsweep.report")
COMPONENTS = ("chunker", "retriever", "reranker", "selector", "generator", "judge", "assessor")
JUDGED_PREFIXES = ("judge_", "ragas_")  # columns an LLM judged: never shown without their judge's calibration
# What a configuration's answers cost to serve (summary field, column label), where the backend reported it.
SERVING_COLUMNS = (("mean_ttft_s", "TTFT s"), ("prefix_cache_hit_rate", "prefix cache hits"))


def load_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every readable run under ``runs_dir``; an unreadable one (truncated metrics.json, missing
    records.parquet) is named in a warning and left out, and the rest still render. Each run's judged columns
    get their judge's calibration as judge-eval reports beside ``runs_dir`` hold it now."""
    return load_run_folders(sorted(p.parent for p in runs_dir.glob("*/*/metrics.json")), runs_dir)


def load_run_folders(folders: list[Path], runs_dir: Path) -> list[dict[str, Any]]:
    """The readable runs among ``folders`` (an unreadable one is named in a warning and left out), each judged
    column with its judge's calibration from the judge-eval reports beside ``runs_dir``."""
    reports = calibration_reports(runs_dir)
    runs = []
    for path in folders:
        try:
            folder = RunFolder.read(path, LEADERBOARD_KEYS)
        except DataError as err:
            log.warning("skipping unreadable run %s: %s", path, err)
            continue
        judges = {c: {**j, "calibration": find_calibration(j["judge_id"], reports) or j.get("run_calibration")}
                  for c, j in (folder.metrics.get("judges") or {}).items()}
        runs.append({"path": folder.path, "metrics": folder.metrics, "info": folder.info, "judges": judges,
                     "labels_root": runs_dir.parent / "labels",  # human labels (ragsweep label) for PPI estimates
                     "results_root": runs_dir.parent})  # where searches (ragsweep search) are written beside the runs
    return runs


def ppi_rows(runs: list[dict[str, Any]], metrics: list[str]) -> list[list[str]]:
    """The runs' judged columns corrected by human labels (analysis/ppi_columns.py), as text rows: those among
    ``metrics`` (the columns shown) first, then any other judged column with labels."""
    from ragsweep.analysis.ppi_columns import HumanLabels, labels_root, ppi_text_rows

    root = labels_root(runs)
    every = sorted({c for r in runs for c in r.get("judges", {})})
    judged = [m for m in metrics if m in every] + [m for m in every if m not in metrics]
    if root is None or not judged or not root.is_dir():
        return []
    return ppi_text_rows(runs, judged, HumanLabels(root))


def is_judged(runs: list[dict[str, Any]], metric: str) -> bool:
    return metric.startswith(JUDGED_PREFIXES) or any(metric in r.get("judges", {}) for r in runs)


def column_judges(runs: list[dict[str, Any]], metric: str) -> dict[str, dict[str, Any] | None]:
    """The judges behind a judged column across runs, by judge id (None: a run that names no judge for it)."""
    out: dict[str, dict[str, Any] | None] = {}
    for r in runs:
        if metric in r["metrics"]["metrics"]:
            judge = r.get("judges", {}).get(metric)
            out[judge["judge_id"] if judge else "unnamed"] = judge
    return out


def column_label(runs: list[dict[str, Any]], metric: str) -> str:
    """A metric's header: a judged column carries its judge's agreement with humans, or "uncalibrated"."""
    if not is_judged(runs, metric):
        return metric
    judges = list(column_judges(runs, metric).values())
    if len(judges) > 1:
        return f"{metric} (several judges)"
    return f"{metric} ({statistic_text(judges[0]['calibration'] if judges and judges[0] else None)})"


def judge_notes(runs: list[dict[str, Any]], metrics: list[str]) -> list[str]:
    """One line per judged column and judge: rubric, models, samples and calibration (or uncalibrated)."""
    lines = []
    for metric in metrics:
        if not is_judged(runs, metric):
            continue
        for judge_id, judge in column_judges(runs, metric).items():
            if judge is None:
                lines.append(f"{metric}: judge not recorded by its runs ({UNCALIBRATED})")
                continue
            samples = f", majority of {judge['samples']} samples" if judge.get("samples", 1) > 1 else ""
            own = sorted({str(r["metrics"]["self_judged"]) for r in runs if r["metrics"].get("self_judged") in judge["models"]})
            self_note = f"; WARNING: {', '.join(own)} judges answers it generated itself (self-preference)" if own else ""
            lines.append(f"{metric}: rubric {judge['rubric']} by {', '.join(judge['models'])}{samples} (judge {judge_id}): "
                         f"{calibration_text(judge['calibration'])}{self_note}")
    return lines


def n_queries(run: dict[str, Any]) -> int:
    return int(run["metrics"]["summary"]["n_queries"])


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


def component_grid(runs: list[dict[str, Any]], key: str) -> tuple[list[dict[str, str]], Any] | None:
    """(each run's varying components, its per-query ``key`` scores as one row of a runs x queries array, NaN where
    unscored), or None where no component varies."""
    import numpy as np

    factors = [c for c in COMPONENTS if len({str(r["metrics"]["components"].get(c, "")) for r in runs}) > 1]
    if not factors:
        return None
    scored = [per_query(r, key) for r in runs]
    queries = sorted(set().union(*scored))
    return ([{f: str(r["metrics"]["components"].get(f, "")) for f in factors} for r in runs],
            np.array([[s.get(q, np.nan) for q in queries] for s in scored]))


Grid = tuple[list[dict[str, str]], Any] | None


def component_effects(runs: list[dict[str, Any]], key: str, grid: Grid = None) -> list[MainEffect]:
    """Each varying component's main effects on ``key`` over one suite's runs (metrics/effects.py), each read in the
    direction that improves ``key``, the largest first. Empty where the runs are no grid of components (two alike
    in every component, as when a sweep also varies top_k) or no component varies. ``grid``: component_grid's, where
    the caller has read it already (it reads every run's records)."""
    grid = grid if grid is not None else component_grid(runs, key)
    try:
        effects = main_effects(*grid) if grid else []
    except ValueError:
        return []
    sign = -1.0 if lower_is_better([r["metrics"] for r in runs], key) else 1.0
    return sorted((e if sign * e.estimate >= 0 else e.reversed() for e in effects), key=lambda e: -sign * e.estimate)


def component_interactions(runs: list[dict[str, Any]], key: str, grid: Grid = None) -> list[Interaction]:
    """Each two varying components' interaction contrasts on ``key`` (metrics/effects.py), the largest in size first;
    empty where the runs are no grid of two or more varying components. ``grid`` as for component_effects."""
    grid = grid if grid is not None else component_grid(runs, key)
    try:
        found = interactions(*grid) if grid else []
    except ValueError:
        return []
    return sorted(found, key=lambda i: -abs(i.estimate))


EFFECTS_NOTE = ("What to change: each component's main effect on {key}, read in the direction that improves it, largest first "
                "(the mean over queries of the paired difference between runs that differ in that component only, averaged over "
                "the other components; 95% percentile bootstrap interval over queries).")
EFFECTS_HEADER = ["component", "from", "to", "effect [95% interval]", "pairs of runs", "queries"]


INTERACTIONS_NOTE = ("Interactions: how much one component's choice changes another's effect on {key}, (b - a where the "
                     "other is d) - (b - a where it is c), largest in size first; near 0 where the two add up.")
INTERACTIONS_HEADER = ["components", "a -> b", "c -> d", "contrast [95% interval]", "sets of four runs", "queries"]


def effects_plot(effects: list[MainEffect], key: str) -> dict[str, Any]:
    """The main effects as a forest plot the HTML page draws under their table: each change's effect on ``key`` with
    its interval, against the line at 0."""
    items = [{"label": f"{e.factor}: {e.from_level.split()[0]} -> {e.to_level.split()[0]}", "estimate": e.estimate, "low": e.low, "high": e.high}
             for e in effects]
    return {"kind": "forest", "title": f"what to change: main effects on {key}", "x_label": f"change in {key} (95% interval)", "items": items}


def effect_text(e: MainEffect | Interaction) -> str:
    """``+0.1587 [+0.0968, +0.2254]``, with a note when the interval holds 0."""
    return f"{e.estimate:+.4f} [{e.low:+.4f}, {e.high:+.4f}]" + (" (interval holds 0)" if e.low <= 0 <= e.high else "")


HEADROOM_NOTE = ("Headroom: each run's generator also answered with no context (closed book) and with the gold evidence "
                 "(oracle); the share of that gap on {metric} the run's own context closes (0: no better than closed book; 1: as "
                 "good as the oracle), with a 95% paired bootstrap interval over questions.")
HEADROOM_HEADER = ["run", "closed book", "oracle", "this run", "share of the gap closed [95% interval]", "questions", "full documents"]


def bracket_metric(runs: list[dict[str, Any]]) -> str | None:
    """The answer metric the runs' brackets were scored on: the first headline metric with both bracket columns."""
    for r in runs:
        for name in headline_names(r["metrics"], own=False):
            if all(f"{b}_{name}" in r["metrics"]["metrics"] for b in ("closed_book", "oracle")):
                return name
    return None


def headroom_rows(runs: list[dict[str, Any]], metric: str) -> list[list[str]]:
    """One row per run with both brackets: the three means and the share of the gap it closes."""
    rows = []
    for r in runs:
        scored = [per_query(r, m) for m in (metric, f"closed_book_{metric}", f"oracle_{metric}")]
        shared = sorted(set(scored[0]) & set(scored[1]) & set(scored[2]))
        found = gap_closed(*([s[q] for q in shared] for s in scored)) if shared else None
        if found is not None:
            full = r["metrics"]["metrics"].get(f"full_documents_{metric}")  # the long-context alternative, where it fitted
            rows.append([r["metrics"].get("configuration", r["path"].name), f"{found.closed_book:.4f}", f"{found.oracle:.4f}", f"{found.run:.4f}",
                         f"{found.share:+.3f} [{found.low:+.3f}, {found.high:+.3f}]", str(found.questions), f"{full['mean']:.4f}" if full else ""])
    return rows


SEARCH_NOTE = ("Search ({file}): {trials} proposals of {keys} by Optuna's TPE, each scored on {search} questions ({metric}; the "
               "best of many is an optimistic score), and the best point scored once on {held} questions the search never saw, "
               "with its 95% bootstrap interval.")


def search_tables(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each search (ragsweep search) of this suite, found by its data identity: its history and its held-out score."""
    from ragsweep.engine.search import read_searches

    root = runs[0].get("results_root") if runs else None
    identities = {r["metrics"].get("data_identity") for r in runs}
    tables = []
    for found in read_searches(root) if root else []:
        if found.get("data_identity") not in identities:
            continue
        keys = [d["key"] for d in found["space"]]
        rows = [[str(t["trial"]), *(str(t["params"].get(k)) for k in keys), f"{t['mean']:.4f}" + (" (best)" if t["trial"] == found["best"]["trial"] else "")]
                for t in found["trials"]]
        held = found["held_out"]
        rows.append(["held out", *(str(found["best"]["params"].get(k)) for k in keys), f"{held['mean']:.4f} [{held['ci_low']:.4f}, {held['ci_high']:.4f}]"])
        tables.append({"id": "search", "note": SEARCH_NOTE.format(file=Path(found["file"]).name, trials=len(found["trials"]), keys=", ".join(keys),
                                                                  search=found["search_questions"], metric=found["metric"], held=held["questions"]),
                       "header": ["trial", *keys, found["metric"]], "rows": rows})
    return tables


def extra_tables(runs: list[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    """What to change, as tables {id, note, header, rows} of plain text (the Markdown and HTML leaderboards draw
    them alike; the HTML page also draws a table's ``plot``): the headroom the brackets leave, the main effects, the
    interactions where two or more components vary, and the searches run on the suite."""
    tables = search_tables(runs)
    if (metric := bracket_metric(runs)) and (rows := headroom_rows(runs, metric)):
        tables.append({"id": "headroom", "note": HEADROOM_NOTE.format(metric=metric), "header": HEADROOM_HEADER, "rows": rows})
    if not key:
        return tables
    grid = component_grid(runs, key)  # every run's records read once, for the effects and the interactions
    if effects := component_effects(runs, key, grid):
        tables.append({"id": "effects", "note": EFFECTS_NOTE.format(key=key), "header": EFFECTS_HEADER, "plot": effects_plot(effects, key),
                       "rows": [[e.factor, e.from_level, e.to_level, effect_text(e), str(e.pairs), str(e.queries)] for e in effects]})
    if found := component_interactions(runs, key, grid):
        tables.append({"id": "interactions", "note": INTERACTIONS_NOTE.format(key=key), "header": INTERACTIONS_HEADER,
                       "rows": [[" x ".join(i.factors), " -> ".join(i.first), " -> ".join(i.second), effect_text(i), str(i.sets), str(i.queries)]
                                for i in found]})
    return tables


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
            raise ConfigError(f"no runs of sweep {unknown[0]!r}: {did_you_mean(unknown[0], sorted(counts))}(sweeps with runs: {', '.join(sorted(counts)) or 'none'})")
    else:
        wanted = set(counts) - {"adhoc"}
    shown = [r for r in runs if str(r["metrics"].get("sweep")) in wanted]
    left = sorted(set(counts) - wanted)
    note = f"Sweeps shown: {', '.join(f'{s} ({counts[s]})' for s in sorted(wanted & set(counts))) or 'none'}"
    if left:
        note += f"; left out: {', '.join(f'{s} ({counts[s]})' for s in left)} (`ragsweep report --sweep all` shows every sweep)"
    return shown, note + "."
