"""Every scorer measured against people (``ragsweep judge-eval --sweep NAME --rubric R``): each per-query number a
sweep's runs recorded (exact match, token F1, answer containment and recall, keyword coverage, citation scores, an
LLM rubric's verdicts, a plugin's column) set against the human labels people gave those answers (``ragsweep
label``), ranked by Spearman's rho with a 95% interval that resamples whole questions. A user learns which automatic
scorer follows people on their own data before trusting any of them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from ragsweep.metrics.agreement import bootstrap_interval, spearman
from ragsweep.store.labels import answer_sha

MIN_PAIRS = 5  # fewer labelled answers than this: the column is listed, not ranked


def labelled_pairs(run_dirs: Sequence[Path], human: dict[tuple[str, str], float]) -> dict[str, list[tuple[float, float, str]]]:
    """column -> (human score, column value, query id) over every labelled answer of the runs."""
    import pandas as pd

    pairs: dict[str, list[tuple[float, float, str]]] = {}
    for run_dir in run_dirs:
        records = pd.read_parquet(run_dir / "records.parquet")
        if "answer" not in records.columns:
            continue
        numeric = [c for c in records.columns if records[c].dtype.kind == "f"]
        for row in records[["query_id", "answer", *numeric]].to_dict("records"):
            if not isinstance(row["answer"], str) or not row["answer"].strip():
                continue
            label = human.get((str(row["query_id"]), answer_sha(row["answer"])))
            if label is None:
                continue
            for column in numeric:
                value = row[column]
                if value is not None and not math.isnan(value):
                    pairs.setdefault(column, []).append((label, float(value), str(row["query_id"])))
    return pairs


def rank_scorers(pairs: dict[str, list[tuple[float, float, str]]], seed: int = 0) -> list[dict[str, Any]]:
    """One row per column: n labelled answers, Spearman's rho with its interval; ranked best first, columns with
    too few pairs or an undefined rho (a constant column) last."""
    rows = []
    for column, values in pairs.items():
        human, scores, groups = [v[0] for v in values], [v[1] for v in values], [v[2] for v in values]
        rho = spearman(human, scores) if len(values) >= MIN_PAIRS else float("nan")
        low, high = bootstrap_interval(spearman, human, scores, groups, seed=seed) if rho == rho else (float("nan"), float("nan"))
        clean = lambda x: None if x != x else x  # noqa: E731
        rows.append({"column": column, "n": len(values), "spearman": clean(rho), "ci_low": clean(low), "ci_high": clean(high)})
    return sorted(rows, key=lambda r: (r["spearman"] is None, -(r["spearman"] or 0.0), r["column"]))


def table(rows: Sequence[dict[str, Any]], rubric: str) -> str:
    lines = [f"Scorers against people's {rubric} labels (Spearman's rho, 95% interval over questions):", "",
             "| rank | column | labelled answers | rho |", "|---|---|---|---|"]
    for i, r in enumerate(rows, start=1):
        rho = "undefined" if r["spearman"] is None else f"{r['spearman']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        lines.append(f"| {i if r['spearman'] is not None else ''} | {r['column']} | {r['n']} | {rho} |")
    return "\n".join(lines)
