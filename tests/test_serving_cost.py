"""Serving cost per configuration: time to first token and prefix-cache hits, carried from the backend's own
accounting into records, metrics.json and the leaderboard, and absent (None, no column) where a backend does not
report them. (tests/vllm checks vLLM's in-process numbers, a second pass over the same prompts included.)"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ragsweep.analysis.leaderboard import load_runs
from ragsweep.analysis.report import render, render_csv
from ragsweep.scoring.records import serving_summary
from ragsweep.types import Generation
from tests.helpers import run
from tests.loopback_openai import LoopbackServer


def gen(prompt: int, cached: int | None, ttft: float | None) -> Generation:
    return Generation("q", "a", (), prompt_tokens=prompt, ttft_s=ttft, cached_prompt_tokens=cached)


def test_serving_summary_by_hand():
    # Hit rate over the generations that report a cache: (30 + 0) / (100 + 50); the one without says nothing.
    gens = [gen(100, 30, 0.2), gen(50, 0, 0.4), gen(70, None, None)]
    assert serving_summary(gens) == {"mean_ttft_s": pytest.approx(0.3), "prefix_cache_hit_rate": pytest.approx(30 / 150)}
    assert serving_summary([gen(10, None, None)]) == {"mean_ttft_s": None, "prefix_cache_hit_rate": None}
    assert serving_summary([gen(0, 0, None)]) == {"mean_ttft_s": None, "prefix_cache_hit_rate": None}  # no prompt tokens: no rate


def test_a_server_that_reports_cached_tokens_gives_a_hit_rate_and_a_column(tmp_path, isolated_cache):
    with LoopbackServer(lambda body: "Calder Bay", cached_tokens=4) as server:
        run_dir, _ = run(tmp_path, "generator=openai", f"generator.base_url={server.url}", "sweep_name=s")
    records = pd.read_parquet(run_dir / "records.parquet")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert (records["cached_prompt_tokens"] == 4).all() and records["ttft_s"].isna().all()
    assert summary["prefix_cache_hit_rate"] == pytest.approx(4 / 11) and summary["mean_ttft_s"] is None
    runs = load_runs(tmp_path / "runs")
    board = render(runs)
    assert "| prefix cache hits |" in board and f"| {4 / 11:.3f} |" in board and "TTFT s" not in board
    assert "prefix_cache_hit_rate" in render_csv(runs).splitlines()[0]


def test_a_server_that_does_not_report_them_gets_no_column(tmp_path, isolated_cache):
    with LoopbackServer(lambda body: "Calder Bay") as server:
        run_dir, _ = run(tmp_path, "generator=openai", f"generator.base_url={server.url}", "sweep_name=s")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert summary["prefix_cache_hit_rate"] is None and summary["mean_ttft_s"] is None
    assert "prefix cache hits" not in render(load_runs(tmp_path / "runs"))
