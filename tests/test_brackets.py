"""Headroom brackets: the contexts of closed book and oracle, the share of the gap closed by hand, the bracket stages
cached once per suite and generator, their columns equal to the answer metric of what the generator answers from
those contexts, bad bracket configs refused before any work, and the headroom table on the leaderboard."""

from __future__ import annotations

import pandas as pd
import pytest
from omegaconf import OmegaConf

from ragsweep.engine.pipeline import Pipeline
from ragsweep.store.cache import StageCache

from ragsweep.engine.brackets import bracket_contexts, check_brackets
from ragsweep.errors import ConfigError
from ragsweep.generators.extractive import ExtractiveGenerator
from ragsweep.metrics.answers import token_f1
from ragsweep.metrics.headroom import gap_closed
from ragsweep.types import Document, Query, Span
from tests.helpers import run

DOCS = [Document("a", "Alpha text here. The capital is Calder Bay."), Document("b", "Beta document.")]


def test_closed_book_is_no_context_and_the_oracle_is_the_gold_evidence():
    spans = Query("q1", "What is the capital?", gold_spans=(Span("a", 17, 43),))
    docs_only = Query("q2", "What is beta?", gold_doc_ids=("b",))
    assert bracket_contexts("closed_book", [spans, docs_only], DOCS) == [[], []]
    oracle = bracket_contexts("oracle", [spans, docs_only], DOCS)
    assert [c.text for c in oracle[0]] == ["The capital is Calder Bay."]
    assert [(c.doc_id, c.text) for c in oracle[1]] == [("b", "Beta document.")]  # no spans: the gold document whole
    with pytest.raises(ConfigError, match=r"question 'q3' has no gold spans or documents"):
        bracket_contexts("oracle", [Query("q3", "Why?")], DOCS)


def test_bracket_configs_are_checked():
    assert check_brackets(["oracle", "closed_book"]) == ["oracle", "closed_book"]
    with pytest.raises(ConfigError, match=r"unknown bracket 'orcale'"):
        check_brackets(["orcale"])
    with pytest.raises(ConfigError, match="names a bracket twice"):
        check_brackets(["oracle", "oracle"])
    with pytest.raises(ConfigError, match="must be a list"):
        check_brackets("oracle")  # type: ignore[arg-type]


def test_the_share_of_the_gap_closed_by_hand():
    # means: run 0.5, closed 0, oracle 0.75 -> (0.5 - 0) / (0.75 - 0) = 2/3
    found = gap_closed([1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 0])
    assert found is not None and found.share == pytest.approx(2 / 3) and found.questions == 4
    assert (found.closed_book, found.oracle, found.run) == (0.0, 0.75, 0.5)
    assert found.low <= found.share <= found.high
    assert gap_closed([1, 0], [0.5, 0.5], [0.5, 0.5]) is None  # the oracle is no better: no gap
    with pytest.raises(ValueError, match="same questions"):
        gap_closed([1, 0], [0], [1, 1])


def test_brackets_are_answered_once_per_suite_and_generator_and_scored_as_answers(tmp_path):
    first_dir, first = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[closed_book,oracle]")
    assert first["stages"]["bracket_closed_book"]["status"] == first["stages"]["bracket_oracle"]["status"] == "computed"
    _, second = run(tmp_path, "task=multihop_mini", "retriever=dense_hashing", "generator=extractive", "brackets=[closed_book,oracle]")
    assert second["stages"]["retrieve"]["status"] == "computed"  # another configuration ...
    assert second["stages"]["bracket_closed_book"]["status"] == second["stages"]["bracket_oracle"]["status"] == "hit"  # ... the same brackets
    records = pd.read_parquet(first_dir / "records.parquet")
    assert (records["closed_book_answer_f1"] == 0.0).all()  # nothing to extract from: the empty answer
    by_id = {q: row for q, row in zip(records["query_id"], records.to_dict("records"))}
    cfg = OmegaConf.to_container(OmegaConf.load(first_dir / "config.yaml"), resolve=True)
    documents, loaded = Pipeline(cfg, StageCache(tmp_path / "cache"), progress=False).load_suite()
    generator = ExtractiveGenerator()
    checked = 0
    for query, context in zip(loaded, bracket_contexts("oracle", loaded, documents)):
        if query.answers:
            expected = token_f1(generator.best_sentence(query.question, context), query.answers)
            assert by_id[query.query_id]["oracle_answer_f1"] == pytest.approx(expected)
            checked += 1
    assert checked == len(loaded)
    assert "brackets" not in first_dir.name  # the same run, with columns beside its own


def test_brackets_without_a_generator_are_refused_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match=r"brackets=\['oracle'\] answer with the run's generator: this run has none"):
        run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none", "brackets=[oracle]")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.gz"))


def test_the_leaderboard_shows_the_share_of_the_gap_each_run_closes(tmp_path, monkeypatch):
    from ragsweep.analysis.leaderboard import HEADROOM_HEADER, bracket_metric, headroom_rows

    run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[closed_book,oracle]")
    import json

    runs = [{"path": run_dir, "metrics": json.loads((run_dir / "metrics.json").read_text())}]
    assert bracket_metric(runs) == "answer_f1"
    records = pd.read_parquet(run_dir / "records.parquet").dropna(subset=["answer_f1", "oracle_answer_f1"])
    by_hand = gap_closed(records["answer_f1"], records["closed_book_answer_f1"], records["oracle_answer_f1"])
    (row,) = headroom_rows(runs, "answer_f1")
    assert len(row) == len(HEADROOM_HEADER)
    assert row[1:4] == [f"{by_hand.closed_book:.4f}", f"{by_hand.oracle:.4f}", f"{by_hand.run:.4f}"]
    assert row[4].startswith(f"{by_hand.share:+.3f} [")


def test_a_batch_of_questions_gets_its_own_brackets(tmp_path):
    """A race runs a configuration on one batch of questions after another: each batch's brackets are its own."""
    from ragsweep import runtime
    from ragsweep.engine.pipeline import plain_config
    from tests.helpers import CONFIGS
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("config", overrides=[f"cache_dir={tmp_path}/cache", "task=multihop_mini", "generator=extractive", "brackets=[oracle]"])
    cache = StageCache(tmp_path / "cache")
    plain = plain_config(cfg)
    with runtime.RunContext(tmp_path / "cache", bars=False).active():
        ids = [q.query_id for q in Pipeline(plain, cache, progress=False).load_suite()[1]]
        first = Pipeline(plain, cache, progress=False, questions=ids[:3]).run()
        second = Pipeline(plain, cache, progress=False, questions=ids[3:6]).run()
    assert [g.query_id for g in first.bracket_generations["oracle"]] == ids[:3]
    assert [g.query_id for g in second.bracket_generations["oracle"]] == ids[3:6]


def test_full_documents_is_the_whole_suite_where_it_fits_and_one_line_where_not():
    q = [Query("q1", "What is the capital?"), Query("q2", "What is beta?")]
    whole = bracket_contexts("full_documents", q, DOCS)
    assert [[c.text for c in ctx] for ctx in whole] == [[d.text for d in DOCS]] * 2  # every document, whole, in order
    with pytest.raises(ConfigError, match=r"full_documents needs the suite's 2 documents in one context, 13 tokens, over bracket_max_tokens=5"):
        bracket_contexts("full_documents", q, DOCS, max_tokens=5)


def test_the_headroom_table_gives_full_documents_where_a_run_has_it(tmp_path):
    import json

    from ragsweep.analysis.leaderboard import headroom_rows

    run_dir, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[closed_book,oracle,full_documents]",
                        "bracket_max_tokens=100000")
    assert info["stages"]["bracket_full_documents"]["status"] == "computed"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (row,) = headroom_rows([{"path": run_dir, "metrics": metrics}], "answer_f1")
    assert row[-1] == f"{metrics['metrics']['full_documents_answer_f1']['mean']:.4f}"
    with pytest.raises(ConfigError, match="over bracket_max_tokens=10"):
        run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[full_documents]", "bracket_max_tokens=10")


def test_a_change_to_the_code_that_builds_the_brackets_recomputes_them(tmp_path, monkeypatch):
    import ragsweep.engine.pipeline as pipeline

    _, first = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[oracle]")
    assert first["stages"]["bracket_oracle"]["status"] == "computed" and "ragsweep.engine.brackets" in first["code"]
    _, same = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[oracle]")
    assert same["stages"]["bracket_oracle"]["status"] == "hit"
    real = pipeline.code_identity
    monkeypatch.setattr(pipeline, "code_identity", lambda module: "edited" if module == "ragsweep.engine.brackets" else real(module))
    _, edited = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive", "brackets=[oracle]")
    assert edited["stages"]["bracket_oracle"]["status"] == "computed" and edited["stages"]["generate"]["status"] == "hit"
