"""Progress where bars cannot be drawn (a sweep's parallel jobs): log lines naming the job, with items done,
the share, elapsed and an estimate of what is left."""

from __future__ import annotations

import logging
import re

from ragsweep.runtime import RunContext, current


def test_a_sweep_job_logs_progress_lines_naming_itself(tmp_path, caplog):
    job = RunContext(tmp_path / "cache", bars=False, label="job 3", log_every_s=0)
    with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
        assert list(job.progress(["a", "b", "c", "d"], "generate[hf]")) == ["a", "b", "c", "d"]
    lines = [r.getMessage() for r in caplog.records]
    assert [re.sub(r"\d+ s", "T s", re.sub(r", [\d.]+/s", ", R/s", line)) for line in lines] == [
        "job 3: generate[hf]: 1 of 4 (25%), T s, R/s, about T s left",
        "job 3: generate[hf]: 2 of 4 (50%), T s, R/s, about T s left",
        "job 3: generate[hf]: 3 of 4 (75%), T s, R/s, about T s left",
        "job 3: generate[hf]: 4 of 4 (100%), T s, R/s, about T s left",
        "job 3: generate[hf]: 4 done in T s",
    ]


def test_short_work_logs_nothing_and_batches_count_their_items(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="ragsweep.progress"):  # default: a line at most every 30 s
        assert list(RunContext(tmp_path / "cache", bars=False).progress(range(3), "judge")) == [0, 1, 2]
    assert caplog.records == []
    every_update = RunContext(tmp_path / "cache", bars=False, log_every_s=0)
    with caplog.at_level(logging.INFO, logger="ragsweep.progress"), every_update.progress_bar("assess:relevance[hf]", 10) as bar:
        bar.update(8)  # a batch of 8 prompts counts 8
        bar.update(2)
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["assess:relevance[hf]: 8 of 10 (80%)", "assess:relevance[hf]: 10 of 10 (100%)",
                                                                      "assess:relevance[hf]: 10 done in 0 s"]


def test_the_active_context_is_the_runs_and_ends_with_it(tmp_path):
    """Inside ``active()`` components see the run's context; after it, what they saw before (nothing is left set
    for the next run or test); nested runs restore the outer one."""
    outer, inner = RunContext(tmp_path / "a", label="outer"), RunContext(tmp_path / "b", label="inner")
    before = current()
    assert before.label == "" and before is not current()  # outside a run: a fresh default each time
    with outer.active():
        current().count("x", 2)
        with inner.active():
            assert current() is inner
            current().count("x")
        assert current() is outer
    assert current().label == "" and outer.counters == {"x": 2} and inner.counters == {"x": 1}


def test_threads_of_a_component_do_not_inherit_the_context(tmp_path):
    """Why a component that hands work to its own threads reads the context first (llm/openai_server.py)."""
    import threading

    seen = []
    with RunContext(tmp_path / "a", label="run").active():
        thread = threading.Thread(target=lambda: seen.append(current().label))
        thread.start()
        thread.join()
    assert seen == [""]


def test_slow_items_and_a_loading_model_are_never_silent_longer_than_the_interval(tmp_path, caplog):
    """A scripted slow backend: items that take 2.5 intervals each, and a step with no items (a model loading). A
    heartbeat line comes whenever no item finished within the interval, so the gaps between lines stay at the
    interval (never silent longer), and no heartbeat comes after the work is done."""
    import time

    every = 0.2
    job = RunContext(tmp_path / "cache", bars=False, label="job 5", log_every_s=every)
    with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
        with job.working("loading bundled:Model"):
            time.sleep(2.6 * every)
        with job.progress_bar("generate[hf]", 2) as bar:
            for _ in range(2):
                time.sleep(2.5 * every)  # one slow batch
                bar.update(1)
        time.sleep(2 * every)  # after close: nothing more
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


def test_steps_each_shorter_than_the_interval_are_not_silent_together_for_longer(tmp_path, caplog):
    """A model loading, then its first batch, each 0.7 intervals: the job's silence counts from its start (its last
    line), not from each step's, so a line comes about one interval in."""
    import time

    every = 0.3
    job = RunContext(tmp_path / "cache", bars=False, label="job 1", log_every_s=every)
    started = time.time()
    with caplog.at_level(logging.INFO, logger="ragsweep.progress"):
        with job.working("loading bundled:Model"):
            time.sleep(0.7 * every)
        with job.progress_bar("generate[hf]", 1) as bar:
            time.sleep(0.7 * every)
            bar.update(1)
    records = [r for r in caplog.records if r.name == "ragsweep.progress"]
    assert [r.getMessage() for r in records][:1] == ["job 1: generate[hf]: 0 of 1 (0%), 0 s, no estimate yet (working)"]
    assert records[0].created - started < 1.5 * every
