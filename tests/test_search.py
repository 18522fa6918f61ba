"""``ragsweep search``: the space and the question split checked by hand, a search end to end whose every trial and
held-out score equal the same configuration's full run read on those questions, and the search's history on the
leaderboard of its suite."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ragsweep.commands.search import main as search_main
from ragsweep.engine.search import parse_space, split_questions
from ragsweep.errors import ConfigError
from tests.helpers import run


def test_the_space_is_checked_key_by_key():
    dims = parse_space({"chunker.size": {"type": "int", "low": 64, "high": 512, "step": 64}, "retriever": {"type": "categorical", "choices": ["bm25", "dense"]},
                        "retriever.k_rrf": {"type": "float", "low": 1.0, "high": 100.0, "log": True}})
    assert [(d.key, d.kind) for d in dims] == [("chunker.size", "int"), ("retriever", "categorical"), ("retriever.k_rrf", "float")]
    bad = [
        ({"a": {"type": "integer", "low": 1, "high": 2}}, r"search.space.a: needs type"),
        ({"a": {"type": "int", "low": 5, "high": 2}}, r"search.space.a: needs numbers low < high"),
        ({"a": {"type": "int", "low": 1.5, "high": 4}}, r"search.space.a: an int key needs whole"),
        ({"a": {"type": "float", "low": 0, "high": 1, "log": True}}, r"a log scale needs low > 0"),
        ({"a": {"type": "categorical", "choices": []}}, r"needs a non-empty list of choices"),
        ({"a": {"type": "int", "low": 1, "high": 4, "stepp": 1}}, r"unknown field\(s\) stepp"),
        ({}, r"search.space must map each searched key"),
    ]
    for space, message in bad:
        with pytest.raises(ConfigError, match=message):
            parse_space(space)


def test_the_question_split_is_seeded_disjoint_and_keeps_a_question_each_side():
    ids = [f"q{i}" for i in range(10)]
    search, held = split_questions(ids, 0.3, seed=1)
    assert len(held) == 3 and len(search) == 7 and not set(search) & set(held) and sorted(search + held) == sorted(ids)
    assert split_questions(ids, 0.3, seed=1) == (search, held) != split_questions(ids, 0.3, seed=2)
    assert [len(x) for x in split_questions(ids[:2], 0.01, 0)] == [1, 1]
    with pytest.raises(ConfigError, match="holdout must be in"):
        split_questions(ids, 1.0, 0)


def test_a_search_scores_as_the_full_runs_do_on_its_questions(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    assert search_main(["search_chunking", "task=span_mini", "--trials", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    found = json.loads((tmp_path / "searches" / "search_chunking" / "span_mini.json").read_text())
    assert len(found["trials"]) == 4 and found["search_questions"] + found["held_out_questions"] == 14
    assert "on the 4 held-out questions" in out and found["grid_points"] == 16
    ids = None
    for trial in found["trials"]:
        size = trial["params"]["chunker.size"]
        assert size % 64 == 0 and 64 <= size <= 1024
        run_dir, _ = run(tmp_path / "full", "task=span_mini", "chunker=fixed_tokens", f"chunker.size={size}", "retriever=bm25", "generator=none", "span_k=5")
        records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")["span_iou@5"]
        ids = ids or split_questions(list(records.index), 0.3, 3)
        assert trial["mean"] == pytest.approx(records.loc[ids[0]].mean())
        if trial["trial"] == found["best"]["trial"]:
            assert found["held_out"]["mean"] == pytest.approx(records.loc[ids[1]].mean())
    assert found["best"]["mean"] == max(t["mean"] for t in found["trials"])


def test_a_search_needs_its_block_and_one_run_per_proposal(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with pytest.raises(ConfigError, match="has no search block"):
        search_main(["ci", "task=span_mini"])
    with pytest.raises(ConfigError, match=r"also sweeps retriever: fix them on the command line"):
        search_main(["search_chunking", "task=span_mini", "retriever=bm25,dense_hashing", "--trials", "1"])
    with pytest.raises(ConfigError, match="search trials must be a whole number"):
        search_main(["search_chunking", "task=span_mini", "--trials", "0"])


def test_the_leaderboard_shows_a_search_with_its_suite(tmp_path, monkeypatch):
    from ragsweep.analysis.leaderboard import load_runs, search_tables

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    assert search_main(["search_chunking", "task=span_mini", "--trials", "3"]) == 0
    run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none")  # a run of the same suite
    run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none")  # and of another
    runs = load_runs(tmp_path / "runs")
    by_suite = {r["metrics"]["configuration"].split("__")[0]: [r] for r in runs}
    (table,) = search_tables(by_suite["span_mini"])
    assert table["header"] == ["trial", "chunker.size", "span_iou@5"] and len(table["rows"]) == 3 + 1
    assert table["rows"][-1][0] == "held out"
    assert search_tables(by_suite["multihop_mini"]) == []  # another suite's leaderboard does not show it


def test_a_metric_some_question_lacks_stops_the_search_naming_where(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with pytest.raises(ConfigError, match=r"^span_mini__fixed_tokens__bm25__[^ ]* has no value for answer_f1 on question '[^']+': .*--metric"):
        search_main(["search_chunking", "task=span_mini", "--trials", "1", "--metric", "answer_f1"])


def test_bad_holdouts_and_an_unwritable_results_folder_are_one_line_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    for value in ("0", "1.5", "-0.2"):
        with pytest.raises(ConfigError, match=rf"search holdout must be a share of the questions in \(0, 1\), not {value}"):
            search_main(["search_chunking", "task=span_mini", "--holdout", value])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(blocker))
    with pytest.raises(ConfigError, match=r"cannot write to .*file"):
        search_main(["search_chunking", "task=span_mini", "--trials", "1"])
    assert not (tmp_path / "cache").exists()  # nothing was run


@pytest.mark.parametrize("text, field", [
    ('{"trials": [', "Expecting value"),  # truncated
    ("[1, 2]", "not a JSON object"),
    ('{"trials": []}', "field 'data_identity' is missing"),
])
def test_a_search_file_that_is_not_one_is_left_out_naming_why(tmp_path, monkeypatch, caplog, text, field):
    from ragsweep.engine.search import read_searches

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    assert search_main(["search_chunking", "task=span_mini", "--trials", "2"]) == 0
    bad = tmp_path / "searches" / "search_chunking" / "broken.json"
    bad.write_text(text)
    found = read_searches(tmp_path)
    assert [f["suite"] for f in found] == ["span_mini"]  # the good one is still read
    assert f"{bad}: not a search result" in caplog.text and field in caplog.text


def test_a_search_whose_trials_are_not_as_written_is_left_out(tmp_path, monkeypatch, caplog):
    from ragsweep.engine.search import read_searches

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    assert search_main(["search_chunking", "task=span_mini", "--trials", "2"]) == 0
    path = tmp_path / "searches" / "search_chunking" / "span_mini.json"
    found = json.loads(path.read_text())
    found["trials"][0]["mean"] = "<b>0.5</b>"  # hostile text where a number belongs
    path.write_text(json.dumps(found))
    assert read_searches(tmp_path) == [] and "field 'trials' or 'held_out' is not as a search writes it" in caplog.text
