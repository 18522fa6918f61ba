"""The leaderboard and the chunking-study table render what the runs' metrics.json hold."""

from __future__ import annotations

import json

import pandas as pd

from ragsweep.report import load_runs, render
from ragsweep.study import rows, table


def _write_run(root, sweep, name, chunker, iou, headline="span_iou@5", per_query=None):
    run = root / sweep / name
    run.mkdir(parents=True)
    values = per_query or [iou] * 14
    pd.DataFrame({"query_id": [f"q{i}" for i in range(14)], "span_iou@5": values}).to_parquet(run / "records.parquet")
    metrics = {
        "sweep": sweep,
        "headline": headline,
        "choices": {"task": "span_mini", "chunker": chunker},
        "components": {"chunker": chunker, "retriever": "bm25", "reranker": "none", "generator": "none"},
        "summary": {"n_queries": 14, "n_chunks": 10, "mean_chunk_chars": 250.0, "chunking_wall_s": 0.5},
        "metrics": {"span_iou@5": {"mean": iou, "std": 0.01, "ci_low": iou - 0.02, "ci_high": iou + 0.04, "n": 14}},
    }
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_leaderboard_sorts_by_the_suite_headline(tmp_path):
    _write_run(tmp_path, "s", "a", "fixed", 0.10)
    _write_run(tmp_path, "s", "b", "semantic", 0.30)
    text = render(load_runs(tmp_path))
    rows_ = [line for line in text.splitlines() if line.startswith("| s |")]
    assert rows_[0].startswith("| s | semantic") and "0.300 ±0.030" in rows_[0]
    assert "## span_mini (14 queries, 2 runs)" in text


def test_leaderboard_marks_runs_not_significantly_worse_than_the_best(tmp_path):
    _write_run(tmp_path, "s", "a", "fixed", 0.10)  # lower on all 14 queries: p = 2 / 2^14
    _write_run(tmp_path, "s", "b", "semantic", 0.30)
    _write_run(tmp_path, "s", "c", "cluster", 0.30 - 0.2 / 14, per_query=[0.1] + [0.3] * 13)  # one query: p = 1
    rows_ = [line for line in render(load_runs(tmp_path)).splitlines() if line.startswith("| s |")]
    assert rows_[0].endswith("| best |")
    assert rows_[1].startswith("| s | cluster") and rows_[1].endswith("| ≈ p=1.00 |")
    assert rows_[2].startswith("| s | fixed") and rows_[2].endswith("| worse p=0.000 |")


def test_study_table_in_percent_with_chunking_time(tmp_path):
    _write_run(tmp_path, "study", "a", "fixed", 0.123)
    study = rows(load_runs(tmp_path))
    assert "| fixed | 10 | 250 | 0.5 | 12.3 ± 1.0 |" in table(study, "span_mini", 14)
