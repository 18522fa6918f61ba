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
