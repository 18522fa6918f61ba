"""Judged columns corrected by human labels: for each run and judged column whose rubric has labels
(results/labels, ``ragsweep label``), the PPI++ estimate of the human mean (metrics/ppi.py) beside the judge-only
mean and the labels' own mean, and for the leaderboard's "vs best" the PPI interval of the paired difference
between two configurations on the questions labelled in both.

Which labels count: those on the questions the labelling design sampled (the seed and budget ``ragsweep label``
recorded beside the rubric's labels; labelling/items.py), each answer's consensus score across annotators. Labels
on other questions (imported ones, say) are left out, since only the sample is a uniform random draw; without a
recorded design every labelled question counts, and the estimate says so. A column with fewer than
``MIN_LABELS`` labelled questions gets no estimate, only its count.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError
from ragsweep.labelling.items import sampled_queries
from ragsweep.metrics.ppi import MIN_LABELS, ppi_mean
from ragsweep.store.labels import LabelStore, answer_sha, consensus, plain_name

def _per_query(run_dir: Path, column: str) -> dict[str, tuple[str, float | None]]:
    """query id -> (answer sha, judge score or None where the verdict was invalid), for queries with an answer."""
    import pandas as pd

    records = pd.read_parquet(run_dir / "records.parquet")
    if column not in records.columns or "answer" not in records.columns:
        return {}
    fields = ["query_id", "answer", column, *(["generation_error"] if "generation_error" in records.columns else [])]
    out = {}
    for row in records[fields].to_dict("records"):
        answer, score = row["answer"], row[column]
        if isinstance(answer, str) and answer.strip() and not isinstance(row.get("generation_error"), str):
            valid = score is not None and not (isinstance(score, float) and math.isnan(score))
            out[str(row["query_id"])] = (answer_sha(answer), float(score) if valid else None)
    return out


class HumanLabels:
    """The label store read once per rubric: consensus scores and the sampling design."""

    def __init__(self, root: Path):
        self.store = LabelStore(root)
        self._cache: dict[str, tuple[dict[tuple[str, str], float], dict[str, int] | None]] = {}
        self._answers: dict[tuple[Path, str], dict[str, tuple[str, float | None]]] = {}

    def answers(self, run_dir: Path, column: str) -> dict[str, tuple[str, float | None]]:
        """A run's answers and judge scores on ``column``, read once per report (each run is paired with the best)."""
        key = (Path(run_dir), column)
        if key not in self._answers:
            self._answers[key] = _per_query(Path(run_dir), column)
        return self._answers[key]

    def of(self, rubric: str) -> tuple[dict[tuple[str, str], float], dict[str, int] | None]:
        if rubric not in self._cache:
            try:
                plain_name(rubric, "rubric")
            except ConfigError:  # an assessor's rubric label ("umbrela (v1)"): no labels are kept for it
                self._cache[rubric] = ({}, None)
                return self._cache[rubric]
            scores, _ = consensus(self.store.labels(rubric))
            self._cache[rubric] = (scores, self.store.design(rubric))
        return self._cache[rubric]


def _sample(per_query: dict[str, Any], identity: str, design: dict[str, int] | None) -> set[str]:
    return set(per_query) if design is None else set(sampled_queries(list(per_query), identity, design["seed"], design["budget"]))


def run_estimate(run: dict[str, Any], column: str, labels: HumanLabels) -> dict[str, Any] | None:
    """The PPI++ estimate of ``column`` for one run (None: its rubric has no labels at all)."""
    judge = (run.get("judges") or {}).get(column)
    if not judge:
        return None
    human, design = labels.of(str(judge["rubric"]))
    if not human:
        return None
    per_query = labels.answers(run["path"], column)
    sample = _sample(per_query, str(run["metrics"].get("data_identity") or ""), design)
    labelled = [q for q in sorted(sample) if (q, per_query[q][0]) in human and per_query[q][1] is not None]
    unlabelled = [q for q in sorted(per_query) if q not in labelled and per_query[q][1] is not None]
    out: dict[str, Any] = {"rubric": judge["rubric"], "labelled": len(labelled), "unlabelled": len(unlabelled),
                           "sampled": len(sample), "design": "sampled" if design else "labels as given (no recorded design)"}
    if len(labelled) < MIN_LABELS or len(unlabelled) < 2:
        return {**out, "estimate": None, "why": f"too few labels ({len(labelled)} < {MIN_LABELS})"}
    est = ppi_mean([human[(q, per_query[q][0])] for q in labelled], [per_query[q][1] for q in labelled], [per_query[q][1] for q in unlabelled])
    return {**out, "estimate": est.__dict__}


def paired_estimate(run_a: dict[str, Any], run_b: dict[str, Any], column: str, labels: HumanLabels) -> dict[str, Any] | None:
    """PPI++ interval of mean(a) - mean(b) over the questions both answered: labelled where both answers carry a
    label (the same sampled questions in every configuration), judged on the rest."""
    judge = (run_a.get("judges") or {}).get(column)
    if not judge:
        return None
    human, design = labels.of(str(judge["rubric"]))
    a, b = labels.answers(run_a["path"], column), labels.answers(run_b["path"], column)
    shared = {q for q in a if q in b and a[q][1] is not None and b[q][1] is not None}
    sample = _sample(a, str(run_a["metrics"].get("data_identity") or ""), design)
    labelled = [q for q in sorted(shared & sample) if (q, a[q][0]) in human and (q, b[q][0]) in human]
    unlabelled = [q for q in sorted(shared) if q not in labelled]
    if len(labelled) < MIN_LABELS or len(unlabelled) < 2:
        return {"labelled": len(labelled), "estimate": None}
    est = ppi_mean([human[(q, a[q][0])] - human[(q, b[q][0])] for q in labelled], [a[q][1] - b[q][1] for q in labelled],
                   [a[q][1] - b[q][1] for q in unlabelled])
    return {"labelled": len(labelled), "estimate": est.__dict__}


def ppi_table(runs: list[dict[str, Any]], columns: list[str], labels: HumanLabels) -> list[dict[str, Any]]:
    """One row per (judged column, run) with labels, best first: the run, the column, the judge's mean, the labels'
    mean, the PPI++ mean and interval, the labels used and their worth, and the paired PPI verdict against the
    column's best run (the highest PPI mean; the lowest where lower is better)."""
    rows = []
    for column in columns:
        estimates = [(r, run_estimate(r, column, labels)) for r in runs]
        estimates = [(r, e) for r, e in estimates if e is not None]
        if not estimates:
            continue
        lower = any(column in r["metrics"].get("lower_is_better", ()) for r, _ in estimates)
        sign = 1.0 if lower else -1.0  # best first, runs without an estimate last
        estimates.sort(key=lambda pair: (pair[1]["estimate"] is None, sign * pair[1]["estimate"]["mean"] if pair[1]["estimate"] else 0.0))
        scored = [(r, e) for r, e in estimates if e["estimate"]]
        best = scored[0][0] if scored else None
        for r, e in estimates:
            versus = None
            if best is not None and e["estimate"] and r is not best:
                paired = paired_estimate(r, best, column, labels)
                d = (paired or {}).get("estimate")
                worse = d is not None and ((d["ci_low"] > 0) if lower else (d["ci_high"] < 0))
                versus = ("too few shared labels" if d is None else
                          f"{'worse' if worse else '≈'} {d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
            rows.append({"run": r, "column": column, **e, "versus": "best" if r is best else versus})
    return rows


PPI_HEADER = ["run", "column", "judge only", "labels only [95%]", "PPI++ [95%]", "labels", "worth in labels alone", "vs best (paired PPI)"]
PPI_NOTE = ("Judged columns corrected by human labels (`ragsweep label`): PPI++ combines the judge's scores on every answer "
            "with the labels on a random sample of them into an estimate of the mean people would give, with an interval valid "
            "whatever the judge's quality. judge only: the judge's mean, uncorrected; labels only: the labelled answers' mean; "
            "worth: how many labels alone would give an interval as narrow; vs best: the paired difference to the best run on "
            "the questions labelled in both, worse where its interval excludes 0.")


def _interval(mean: float, low: float, high: float) -> str:
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def ppi_text_rows(runs: list[dict[str, Any]], columns: list[str], labels: HumanLabels) -> list[list[str]]:
    """The PPI table as text cells (PPI_HEADER's columns), for the Markdown and HTML leaderboards alike."""
    out = []
    for row in ppi_table(runs, columns, labels):
        e = row["estimate"]
        used = f"{row['labelled']} of {row['sampled']} sampled" + ("" if row["design"] == "sampled" else " (no recorded design)")
        if e is None:
            out.append([row["run"]["path"].name, row["column"], "", "", row["why"], used, "", ""])
            continue
        out.append([row["run"]["path"].name, row["column"], f"{e['judge_mean']:.3f}", _interval(e["human_mean"], e["human_ci_low"], e["human_ci_high"]),
                    _interval(e["mean"], e["ci_low"], e["ci_high"]), used, f"{e['effective_labels']:.0f}", row["versus"] or ""])
    return out


def labels_root(runs: list[dict[str, Any]]) -> Path | None:
    """The label store beside the runs (<results>/labels), where the runs were read from a runs folder."""
    roots = {r.get("labels_root") for r in runs} - {None}
    return next(iter(roots)) if len(roots) == 1 else None
