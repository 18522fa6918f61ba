"""The table a sweep ends with, on run folders whose numbers are known."""

from __future__ import annotations

from ragsweep.analysis.sweep_table import sweep_table
from tests.test_report import _write_run


def test_sweep_table_ranks_runs_and_shows_only_the_components_that_differ(tmp_path):
    _write_run(tmp_path, "s", "a", "fixed", 0.10)
    _write_run(tmp_path, "s", "b", "semantic", 0.30)
    _write_run(tmp_path, "s", "c", "cluster", 0.30 - 0.2 / 14, per_query=[0.1] + [0.3] * 13)
    text = sweep_table(sorted((tmp_path / "s").iterdir()), tmp_path, "s")
    # 0.300 ± (0.34 - 0.28) / 2; the cluster run loses one query of 14 to the best (sign-flip p = 1); fixed loses all 14
    # (p = 2 / 2^14 < 0.001); reranker and generator are "none" in every run and bm25 is shared: said once
    assert text.splitlines()[2:7] == [
        "span_mini (14 queries, 3 runs); every run: retriever bm25",
        "  span_iou@5    vs best        chunker",
        "  0.300 ±0.030  best           semantic",
        "  0.286 ±0.030  ≈ p=1.00       cluster",
        "  0.100 ±0.030  worse p<0.001  fixed",
    ]
    assert text.splitlines()[-1] == "every metric, the HTML page and CSV: ragsweep report --sweep s"


def test_no_readable_run_gives_no_table(tmp_path):
    assert sweep_table([tmp_path / "gone"], tmp_path, "s") == ""


def test_a_sweep_ranks_by_what_it_was_for(tmp_path, caplog):
    """rank_by: every column with its interval, ranked by the first, the paired test on it; a suite holding none of
    them is ranked by its headline, and the log says so."""
    import json

    for name, chunker, iou, f1 in (("a", "fixed", 0.30, 0.20), ("b", "semantic", 0.10, 0.60)):
        _write_run(tmp_path, "s", name, chunker, iou)
        metrics_path = tmp_path / "s" / name / "metrics.json"
        metrics = json.loads(metrics_path.read_text())
        metrics["metrics"]["answer_f1"] = {"mean": f1, "std": 0.1, "ci_low": f1 - 0.05, "ci_high": f1 + 0.05, "n": 14}
        metrics_path.write_text(json.dumps(metrics))
        records = tmp_path / "s" / name / "records.parquet"
        import pandas as pd

        frame = pd.read_parquet(records)
        frame["answer_f1"] = f1
        frame.to_parquet(records)
    folders = sorted((tmp_path / "s").iterdir())
    lines = sweep_table(folders, tmp_path, "s", ["answer_f1", "span_iou@5"]).splitlines()
    assert lines[3:6] == [
        "  answer_f1     vs best        span_iou@5    chunker",
        "  0.600 ±0.050  best           0.100 ±0.030  semantic",
        "  0.200 ±0.050  worse p<0.001  0.300 ±0.030  fixed",
    ]
    lines = sweep_table(folders, tmp_path, "s", ["judged_ndcg@10"]).splitlines()
    assert lines[3].split()[0] == "span_iou@5" and lines[4].split()[-1] == "fixed"
    assert "no run holds any of rank_by judged_ndcg@10" in caplog.text
