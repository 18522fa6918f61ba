"""The leaderboard and the chunking-study table render what the runs' metrics.json hold."""

from __future__ import annotations

import json

import pandas as pd

from ragsweep.analysis.leaderboard import load_runs
from ragsweep.analysis.report import render
from ragsweep.analysis.study import rows, table


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
    assert rows_[0].startswith("| s | 0.300 ±0.030 | best | semantic")
    assert "## span_mini (14 queries, 2 runs)" in text


def test_leaderboard_marks_runs_not_significantly_worse_than_the_best(tmp_path):
    _write_run(tmp_path, "s", "a", "fixed", 0.10)  # lower on all 14 queries: p = 2 / 2^14
    _write_run(tmp_path, "s", "b", "semantic", 0.30)
    _write_run(tmp_path, "s", "c", "cluster", 0.30 - 0.2 / 14, per_query=[0.1] + [0.3] * 13)  # one query: p = 1
    rows_ = [line for line in render(load_runs(tmp_path)).splitlines() if line.startswith("| s |")]
    # the comparison sits right after the sort column, in view
    assert rows_[0].startswith("| s | 0.300 ±0.030 | best | semantic | bm25 | none | none |")
    assert rows_[1].startswith("| s | 0.286 ±0.030 | ≈ p=1.00 | cluster")
    assert rows_[2].startswith("| s | 0.100 ±0.030 | worse p<0.001 | fixed")


def test_default_report_leaves_adhoc_runs_out_and_says_so(tmp_path):
    from ragsweep.analysis.leaderboard import select_sweeps

    _write_run(tmp_path, "default", "a", "fixed", 0.10)
    _write_run(tmp_path, "adhoc", "b", "semantic", 0.30)
    _write_run(tmp_path, "ci", "c", "cluster", 0.20)
    runs = load_runs(tmp_path)
    shown, note = select_sweeps(runs, None)
    assert sorted(r["path"].name for r in shown) == ["a", "c"]
    assert note == "Sweeps shown: ci (1), default (1); left out: adhoc (1) (`ragsweep report --sweep all` shows every sweep)."
    assert len(select_sweeps(runs, "all")[0]) == 3 and select_sweeps(runs, "all")[1] == "Sweeps shown: adhoc (1), ci (1), default (1)."
    assert [r["path"].name for r in select_sweeps(runs, "adhoc")[0]] == ["b"]
    assert note in render(shown, sweeps_note=note)


def test_csv_has_one_row_per_run_with_every_metric_and_the_paired_test(tmp_path):
    import csv
    import io

    from ragsweep.analysis.report import render_csv

    _write_run(tmp_path, "s", "a", "fixed", 0.10)
    _write_run(tmp_path, "s", "b", "semantic", 0.30)
    rows_ = list(csv.DictReader(io.StringIO(render_csv(load_runs(tmp_path)))))
    assert [(r["run"], r["chunker"], r["span_iou@5:mean"], r["span_iou@5:ci_low"], r["span_iou@5:n"], r["sort_metric"]) for r in rows_] == [
        ("b", "semantic", "0.3", "0.27999999999999997", "14", "span_iou@5"), ("a", "fixed", "0.1", "0.08", "14", "span_iou@5"),
    ]
    assert rows_[0]["vs_best_p"] == "best" and float(rows_[1]["vs_best_p"]) == 2 / 2**14  # all 14 queries lower: p = 2 / 2^14
    assert rows_[0]["suite"] == "span_mini" and rows_[0]["n_queries"] == "14"


def test_report_command_writes_csv_beside_the_page(tmp_path):
    from ragsweep.commands.cli import main

    _write_run(tmp_path / "runs", "s", "a", "fixed", 0.10)
    assert main(["report", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "lb.md"), "--csv"]) == 0
    assert (tmp_path / "lb.html").exists() and (tmp_path / "lb.csv").read_text().splitlines()[1].startswith("span_mini,")


def test_study_table_in_percent_with_chunking_time(tmp_path):
    _write_run(tmp_path, "study", "a", "fixed", 0.123)
    study = rows(load_runs(tmp_path))
    assert "| fixed | 10 | 250 | 0.5 | 12.3 ± 1.0 |" in table(study, "span_mini", 14)
