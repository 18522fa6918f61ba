"""Progress where bars cannot be drawn (a sweep's parallel jobs): log lines naming the job, with items done,
the share, elapsed and an estimate of what is left."""

from __future__ import annotations

import logging
import re

from ragsweep.engine import runtime


def test_a_sweep_job_logs_progress_lines_naming_itself(tmp_path, caplog):
    runtime.configure(tmp_path / "cache", progress=False)
    runtime.set_progress_label("job 3", log_every_s=0)
    try:
        with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
            assert list(runtime.progress(["a", "b", "c", "d"], "generate[hf]")) == ["a", "b", "c", "d"]
    finally:
        runtime.set_progress_label("")
    lines = [r.getMessage() for r in caplog.records]
    assert [re.sub(r"\d+ s", "T s", line) for line in lines] == [
        "job 3: generate[hf]: 1 of 4 (25%), T s, about T s left",
        "job 3: generate[hf]: 2 of 4 (50%), T s, about T s left",
        "job 3: generate[hf]: 3 of 4 (75%), T s, about T s left",
        "job 3: generate[hf]: 4 of 4 (100%), T s, about T s left",
        "job 3: generate[hf]: 4 done in T s",
    ]


def test_short_work_logs_nothing_and_batches_count_their_items(tmp_path, caplog):
    runtime.configure(tmp_path / "cache", progress=False)  # default: a line at most every 30 s
    with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
        assert list(runtime.progress(range(3), "judge")) == [0, 1, 2]
    assert caplog.records == []
    runtime.set_progress_label("", log_every_s=0)
    try:
        with caplog.at_level(logging.INFO, logger="ragsweep.progress"), runtime.progress_bar("assess:relevance[hf]", 10) as bar:
            bar.update(8)  # a batch of 8 prompts counts 8
            bar.update(2)
    finally:
        runtime.set_progress_label("")
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["assess:relevance[hf]: 8 of 10 (80%)", "assess:relevance[hf]: 10 of 10 (100%)",
                                                                      "assess:relevance[hf]: 10 done in 0 s"]
