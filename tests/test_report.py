"""The leaderboard and the chunking-study table render what the runs' metrics.json hold."""

from __future__ import annotations

import json

from harness.report import load_runs, render
from harness.study import rows, table


def _write_run(root, sweep, name, chunker, iou, headline="span_iou@5"):
    run = root / sweep / name
    run.mkdir(parents=True)
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


def test_study_table_in_percent_with_chunking_time(tmp_path):
    _write_run(tmp_path, "study", "a", "fixed", 0.123)
    study = rows(load_runs(tmp_path))
    assert "| fixed | 10 | 250 | 0.5 | 12.3 ± 1.0 |" in table(study, "span_mini", 14)
