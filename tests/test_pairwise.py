"""Pairwise judging with the order swapped: verdicts only where both orders agree; position bias is
counted as inconsistency, never as a win."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from ragsweep.errors import DataError
from ragsweep.analysis.pairwise import compare_runs, judge_config
from ragsweep.metrics.judge import pairwise_verdict, pairwise_winner
from tests.loopback_openai import LoopbackServer


@pytest.mark.parametrize(
    "a_first, b_first, verdict",
    [("1", "2", "A"), ("2", "1", "B"), ("tie", "tie", "tie"), ("1", "1", "inconsistent"), ("tie", "2", "inconsistent"), (None, "1", "invalid")],
)
def test_pairwise_verdict_table(a_first, b_first, verdict):
    assert pairwise_verdict(a_first, b_first) == verdict


def test_pairwise_winner_reading():
    assert pairwise_winner('{"winner": "2"}') == "2" and pairwise_winner('{"winner": 1}') == "1"
    assert pairwise_winner("tie") == "tie" and pairwise_winner("Answer 2 is better") is None


def _run(path, answers, identity="d1"):
    path.mkdir()
    pd.DataFrame({"query_id": ["q1", "q2", "q3"], "question": ["Q1?", "Q2?", "Q3?"], "answers": [["x"], ["y"], ["z"]],
                  "answer": answers}).to_parquet(path / "records.parquet")
    (path / "metrics.json").write_text(json.dumps({"data_identity": identity}))
    return path


def _prefers_reference(body):
    text = body["messages"][-1]["content"]
    ref = re.search(r"Reference answer: (.*)", text).group(1)
    first, second = re.search(r"Answer 1: (.*)", text).group(1), re.search(r"Answer 2: (.*)", text).group(1)
    return '{"winner": "%s"}' % ("1" if first == ref else "2" if second == ref else "tie")


def test_compare_runs_counts_wins_and_position_bias(tmp_path, isolated_cache):
    a = _run(tmp_path / "a", ["x", "wrong", "nope"])
    b = _run(tmp_path / "b", ["bad", "y", "also no"])
    prompt = judge_config("llm", [])["prompts"]["pairwise"]
    with LoopbackServer(_prefers_reference) as server:
        model = {"backend": "openai", "model": "j", "base_url": server.url}
        fair = compare_runs(a, b, model, prompt)
    assert fair["counts"] == {"A": 1, "B": 1, "tie": 1, "inconsistent": 0, "invalid": 0} and fair["position_consistency"] == 1.0
    with LoopbackServer(lambda body: '{"winner": "1"}') as server:
        biased = compare_runs(a, b, {"backend": "openai", "model": "j2", "base_url": server.url}, prompt)
    assert biased["counts"]["inconsistent"] == 3 and biased["position_consistency"] == 0.0 and biased["a_win_rate_of_decided"] is None


def test_runs_over_different_data_are_never_paired(tmp_path):
    a = _run(tmp_path / "a", ["x", "y", "z"])
    b = _run(tmp_path / "b", ["x", "y", "z"], identity="other")
    with pytest.raises(DataError, match=r"not the same data as .*a \(data identity other vs d1\)"):
        compare_runs(a, b, {"backend": "openai", "model": "j"}, judge_config("llm", [])["prompts"]["pairwise"])


def test_queries_without_an_answer_are_counted_not_dropped(tmp_path, isolated_cache):
    a = _run(tmp_path / "a", ["x", "", "z"])
    b = _run(tmp_path / "b", ["x", "y", "z"])
    with LoopbackServer(_prefers_reference) as server:
        result = compare_runs(a, b, {"backend": "openai", "model": "j", "base_url": server.url}, judge_config("llm", [])["prompts"]["pairwise"])
    assert result["queries"] == 2 and result["not_compared"] == 1
