"""Progress where bars cannot be drawn (a sweep's parallel jobs): log lines naming the job, with items done,
the share, elapsed and an estimate of what is left."""

from __future__ import annotations

import logging
import re

from ragsweep import runtime


def test_a_sweep_job_logs_progress_lines_naming_itself(tmp_path, caplog):
    runtime.configure(tmp_path / "cache", progress=False)
    runtime.set_progress_label("job 3", log_every_s=0)
    try:
        with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
            assert list(runtime.progress(["a", "b", "c", "d"], "generate[hf]")) == ["a", "b", "c", "d"]
    finally:
        runtime.set_progress_label("")
    lines = [r.getMessage() for r in caplog.records]
    assert [re.sub(r"\d+ s", "T s", re.sub(r", [\d.]+/s", ", R/s", line)) for line in lines] == [
        "job 3: generate[hf]: 1 of 4 (25%), T s, R/s, about T s left",
        "job 3: generate[hf]: 2 of 4 (50%), T s, R/s, about T s left",
        "job 3: generate[hf]: 3 of 4 (75%), T s, R/s, about T s left",
        "job 3: generate[hf]: 4 of 4 (100%), T s, R/s, about T s left",
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


def test_slow_items_and_a_loading_model_are_never_silent_longer_than_the_interval(tmp_path, caplog):
    """A scripted slow backend: items that take 2.5 intervals each, and a step with no items (a model loading). A
    heartbeat line comes whenever no item finished within the interval, so the gaps between lines stay at the
    interval (never silent longer), and no heartbeat comes after the work is done."""
    import time

    runtime.configure(tmp_path / "cache", progress=False)
    every = 0.2
    runtime.set_progress_label("job 5", log_every_s=every)
    try:
        with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
            with runtime.working("loading bundled:Model"):
                time.sleep(2.6 * every)
            with runtime.progress_bar("generate[hf]", 2) as bar:
                for _ in range(2):
                    time.sleep(2.5 * every)  # one slow batch
                    bar.update(1)
            time.sleep(2 * every)  # after close: nothing more
    finally:
        runtime.set_progress_label("")
    records = [r for r in caplog.records if r.name == "ragsweep.progress"]
    lines = [r.getMessage() for r in records]
    loading = [line for line in lines if "loading" in line]
    assert loading[:2] == ["job 5: loading bundled:Model: 0 done, 0 s (working)"] * 2 and loading[-1].startswith("job 5: loading bundled:Model: 0 done in")
    generate = [line for line in lines if "generate" in line]
    assert generate[0] == "job 5: generate[hf]: 0 of 2 (0%), 0 s, no estimate yet (working)"
    assert any(re.fullmatch(r"job 5: generate\[hf\]: 1 of 2 \(50%\), \d+ s, [\d.]+/s, about \d+ s left( \(working\))?", line) for line in generate)
    assert generate[-1].startswith("job 5: generate[hf]: 2 done in")
    beats = [r.created for r in records if r.getMessage().endswith("(working)")]
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert len(beats) >= 5 and all(gap < 3 * every for gap in gaps)  # never silent much longer than the interval
    assert records[-1].created - records[0].created < 2.6 * every + 5 * every + 0.5  # no line after the work ended
