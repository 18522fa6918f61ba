"""Context selectors: each selector's choice by hand, the select stage in the pipeline (cached, keyed, what the
generator receives), the selection columns by hand, a selector that returns garbage named in one line, and run names
unchanged for runs without a selector."""

from __future__ import annotations

import pytest

from ragsweep.engine.contracts import check_selection
from ragsweep.errors import ConfigError, ContractError
from ragsweep.scoring.selection import SelectionMetrics
from ragsweep.selectors.base import normalised, token_counts
from ragsweep.selectors.budgeted import BudgetedSelector, overlap
from ragsweep.selectors.dynamic import DynamicSelector
from ragsweep.selectors.fixed import FixedSelector
from ragsweep.store.results import config_hash
from ragsweep.types import Chunk, Query, Span
from tests.helpers import run


def chunk(i: int, text: str, doc: str = "d", start: int | None = None) -> Chunk:
    start = 100 * i if start is None else start
    return Chunk(f"c{i}", doc, start, start + len(text), text)


def test_normalised_scores_are_scale_free():
    assert normalised([10.0, 5.0, 0.0]).tolist() == [1.0, 0.5, 0.0]
    assert normalised([0.02, 0.01, 0.0]).tolist() == pytest.approx([1.0, 0.5, 0.0])  # RRF-sized scores read the same
    assert normalised([3.0, 3.0]).tolist() == [1.0, 1.0]


def test_fixed_takes_the_top_k():
    ranked = [chunk(i, f"text {i}") for i in range(8)]
    assert FixedSelector(k=3).select("q", ranked, [8, 7, 6, 5, 4, 3, 2, 1]) == [0, 1, 2]
    assert FixedSelector(k=20).select("q", ranked[:2], [2, 1]) == [0, 1]
    with pytest.raises(ConfigError, match="k must be at least 1"):
        FixedSelector(k=0)


def test_dynamic_cuts_at_the_first_fall_of_at_least_drop():
    ranked = [chunk(i, f"text {i}") for i in range(6)]
    # normalised: 1.0, 0.9, 0.3, 0.2, 0.1, 0.0 -> falls 0.1, 0.6, ...: cut after the second chunk
    assert DynamicSelector(drop=0.3).select("q", ranked, [10, 9, 3, 2, 1, 0]) == [0, 1]
    # an even decline (falls of 0.2) never reaches 0.3: all of max_k
    assert DynamicSelector(drop=0.3, max_k=6).select("q", ranked, [5, 4, 3, 2, 1, 0]) == [0, 1, 2, 3, 4, 5]
    # a cliff right after the first chunk (normalised 1, 0.2, 0.18, 0.16, 0.01, 0): cut there, unless min_k=3, after
    # which no fall reaches 0.3
    cliff = [10, 2, 1.8, 1.6, 0.1, 0]
    assert DynamicSelector(drop=0.3, max_k=6).select("q", ranked, cliff) == [0]
    assert DynamicSelector(drop=0.3, min_k=3, max_k=6).select("q", ranked, cliff) == [0, 1, 2, 3, 4, 5]
    assert DynamicSelector(drop=0.5, max_k=4).select("q", ranked, [4, 3, 2, 1, 0, 0]) == [0, 1, 2, 3]  # only the top max_k are read
    assert DynamicSelector(drop=0.5, max_k=6).select("q", ranked, [4, 3, 2, 1, 0, 0]) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ConfigError):
        DynamicSelector(drop=0)
    with pytest.raises(ConfigError):
        DynamicSelector(min_k=5, max_k=2)


def test_budgeted_takes_value_per_token_within_the_budget_and_skips_what_is_already_there():
    words = lambda n, w: " ".join([w] * n)  # noqa: E731
    a = chunk(0, words(10, "alpha"))  # top score, 10 tokens
    a_again = chunk(1, words(10, "alpha"), doc="e")  # same words elsewhere: fully redundant with a
    b = chunk(2, words(40, "beta"))  # 40 tokens
    c = chunk(3, words(10, "gamma"))  # lowest score: value 0 after normalising
    ranked, scores = [a, a_again, b, c], [4.0, 3.5, 3.0, 1.0]
    assert token_counts(ranked) == [10, 10, 40, 10]
    # values 1, 5/6, 2/3, 0; per token 0.1, 0.083, 0.0167: a first, then a_again has no novelty, then b (fits 50)
    assert BudgetedSelector(budget_tokens=50).select("q", ranked, scores) == [0, 2]
    assert BudgetedSelector(budget_tokens=49).select("q", ranked, scores) == [0]  # b no longer fits
    assert BudgetedSelector(budget_tokens=50, redundancy=0.0).select("q", ranked, scores) == [0, 1]  # redundancy ignored: a_again first
    assert BudgetedSelector(budget_tokens=5).select("q", ranked, scores) == []  # nothing fits
    with pytest.raises(ConfigError):
        BudgetedSelector(budget_tokens=0)


def test_overlap_by_offsets_in_one_document_else_by_words():
    a, b = chunk(0, "x" * 100, start=0), chunk(1, "y" * 100, start=50)
    assert overlap(a, b, {"c0": {"x"}, "c1": {"y"}}) == 0.5  # 50 of a's 100 characters lie inside b
    c, d = chunk(2, "one two three four", doc="p", start=0), chunk(3, "two four six", doc="q", start=0)
    assert overlap(c, d, {"c2": {"one", "two", "three", "four"}, "c3": {"two", "four", "six"}}) == 0.5


def test_a_selection_that_breaks_the_contract_is_one_line():
    assert check_selection("selector x", "q1", [2, 0], 3) == [2, 0]
    with pytest.raises(ContractError, match=r"selector x: query 'q1': item 2: 7 is not a position in 0..2"):
        check_selection("selector x", "q1", [0, 7], 3)
    with pytest.raises(ContractError, match="appears twice"):
        check_selection("selector x", "q1", [1, 1], 3)
    with pytest.raises(ContractError, match="must be a list of positions"):
        check_selection("selector x", "q1", "0,1", 3)


def test_selection_columns_by_hand():
    from ragsweep.scoring.base import QueryView

    gold = (Span("d", 0, 100),)
    q = Query("q1", "question?", gold_spans=gold, gold_doc_ids=("d", "e"))
    chosen = [chunk(0, "w " * 50, start=50), chunk(1, "v " * 25, doc="f", start=0)]  # 100 chars at 50..150 of d; 50 of f
    view = QueryView(query=q, ranked=chosen, retrieved=chosen, reranked=False, gold_doc_chunks=[], by_id={}, doc_sections={}, generation=None,
                     judgement=None, language="en", invalid_policy="exclude", selected=chosen)
    cols = SelectionMetrics().columns(view)
    assert cols["context_chunks"] == 2.0
    assert cols["context_tokens"] == float(sum(token_counts(chosen)))
    assert cols["context_span_recall"] == pytest.approx(0.5)  # 50 of the 100 gold characters
    assert cols["context_span_precision"] == pytest.approx(50 / 150)  # of 150 selected characters
    assert cols["context_span_iou"] == pytest.approx(50 / 200)  # union: 0..150 of d and 0..50 of f
    assert cols["context_doc_recall"] == 0.5  # d of d, e
    assert SelectionMetrics().columns(view.__class__(**{**view.__dict__, "selected": None})) == {}


def test_a_run_without_a_selector_keeps_its_name():
    cfg = {"task": {"name": "x"}, "chunker": {"name": "c"}, "retriever": {"name": "r"}, "reranker": {"name": "none"}, "generator": {"name": "none"},
           "judge": {"name": "none"}, "assessor": {"name": "none"}, "top_k": 20, "rerank_candidates": 20, "seed": 0, "scoring": {}}
    assert config_hash({**cfg, "selector": {"name": "none"}}) == config_hash(cfg)
    assert config_hash({**cfg, "selector": {"name": "fixed", "k": 3}}) != config_hash(cfg)


def test_the_generator_gets_the_selected_context_and_the_stage_is_cached(tmp_path):
    run_dir, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "selector=dynamic", "generator=extractive")
    import pandas as pd

    records = pd.read_parquet(run_dir / "records.parquet")
    for _, row in records.iterrows():
        assert list(row["context_chunk_ids"]) == list(row["selected_chunk_ids"])  # given whole, not cut to context_k
        assert list(row["selected_chunk_ids"]) == list(row["ranked_chunk_ids"][: len(row["selected_chunk_ids"])])  # a prefix
    assert info["stages"]["select"]["status"] == "computed" and "__dynamic__" in run_dir.name
    assert records["context_chunks"].mean() == pytest.approx(records["selected_chunk_ids"].map(len).mean())
    _, again = run(tmp_path, "task=multihop_mini", "retriever=bm25", "selector=dynamic", "generator=extractive")
    assert again["stages"]["select"]["status"] == again["stages"]["generate"]["status"] == "hit"
    _, other = run(tmp_path, "task=multihop_mini", "retriever=bm25", "selector=dynamic", "selector.drop=0.5", "generator=extractive")
    assert other["stages"]["retrieve"]["status"] == "hit" and other["stages"]["select"]["status"] == other["stages"]["generate"]["status"] == "computed"
    _, plain = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive")
    assert "select" not in plain["stages"]


def test_a_selector_that_returns_garbage_stops_the_run_naming_it(tmp_path, monkeypatch):
    from ragsweep.selectors.fixed import FixedSelector as Fixed

    monkeypatch.setattr(Fixed, "select", lambda self, question, ranked, scores: [0, 99])
    with pytest.raises(ContractError, match=r"selector 'fixed' \(ragsweep.selectors.fixed.FixedSelector\): query '[^']+': item 2: 99 is not a position"):
        run(tmp_path, "task=multihop_mini", "retriever=bm25", "selector=fixed", "generator=extractive")


def test_the_html_leaderboard_has_a_selector_column_only_where_a_run_chose_one(tmp_path):
    import json
    import re

    from ragsweep.analysis.leaderboard import load_runs
    from ragsweep.analysis.report_html import render_html

    run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "sweep_name=s")
    run(tmp_path, "task=span_mini", "retriever=bm25", "generator=extractive", "sweep_name=s")
    run(tmp_path, "task=span_mini", "retriever=bm25", "selector=budgeted", "generator=extractive", "sweep_name=s")
    page = render_html(load_runs(tmp_path / "runs"))
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    columns = {s["name"]: [c["key"] for c in s["columns"]] for s in data["suites"]}
    assert "selector" in columns["span_mini"] and "selector" not in columns["multihop_mini"]
    labels = {r["selector"] for s in data["suites"] if s["name"] == "span_mini" for r in s["rows"]}
    assert labels == {"none", "budgeted budget_tokens=512"}
