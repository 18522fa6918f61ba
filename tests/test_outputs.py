"""Scoring another system's outputs (outputs.path): a run's own rankings and answers, written out and read back in
each format, score exactly as the run did; a hand-made suite gives hand-computed scores; bad lines are one line
naming file, record and field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ragsweep.errors import ConfigError, DataError
from ragsweep.external.readers import Corpus, read_outputs
from ragsweep.types import Document, Query
from tests.helpers import run


def own_run(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    run_dir, _ = run(tmp_path, "task=span_mini", "retriever=bm25")
    return run_dir, pd.read_parquet(run_dir / "records.parquet")


def metric_means(run_dir: Path) -> dict[str, float]:
    return {k: v["mean"] for k, v in json.loads((run_dir / "metrics.json").read_text())["metrics"].items()}


def test_a_runs_outputs_read_back_in_every_format_score_as_the_run_did(tmp_path):
    run_dir, records = own_run(tmp_path)
    own = metric_means(run_dir)
    offsets = tmp_path / "offsets.jsonl"
    offsets.write_text("".join(json.dumps({"query_id": r.query_id, "answer": r.answer, "passages": [
        {"doc_id": c["doc_id"], "start": int(c["start"]), "end": int(c["end"]), "score": float(c["score"])} for c in r.ranked_chunks]}) + "\n"
        for r in records.itertuples()))
    trec = tmp_path / "system.trec"
    trec.write_text("".join(f"{r.query_id} Q0 {c['doc_id']}#{c['start']}-{c['end']} {i} {100 - i} sys\n"
                            for r in records.itertuples() for i, c in enumerate(r.ranked_chunks, start=1)))
    ragas = tmp_path / "ragas.json"
    ragas.write_text(json.dumps([{"question": r.question, "contexts": [c["text"] for c in r.ranked_chunks], "answer": r.answer,
                                  "ground_truth": "not read"} for r in records.itertuples()]))
    for path, answers in ((offsets, True), (trec, False), (ragas, True)):
        replayed, info = run(tmp_path, "task=span_mini", f"outputs.path={path}", "outputs.name=mine")
        theirs = metric_means(replayed)
        shared = [m for m in own if not m.startswith("answer") or answers]
        assert {m: theirs[m] for m in shared} == {m: own[m] for m in shared}, path.name
        assert info["stages"]["retrieve"]["status"] == "replayed" and info["retrieval"]["outputs"]["queries_without_output"] == 0
        components = json.loads((replayed / "metrics.json").read_text())["components"]
        assert components["chunker"] == components["retriever"] == "outputs mine"
        assert components["generator"] == ("outputs mine" if answers else "none")
        assert replayed.name.startswith("span_mini__outputs__outputs__none__")
    assert info["retrieval"]["outputs"]["passages_located_by"] == {"exact text": int(records.ranked_chunks.map(len).sum())}


def hand_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    suite.mkdir()
    docs = {"A": "Paris is the capital of France.", "B": "The Seine flows through Paris.", "C": "Berlin is in Germany."}
    (suite / "corpus.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items()))
    (suite / "questions.jsonl").write_text(
        json.dumps({"id": "q1", "question": "What is the capital of France?", "answers": ["Paris"], "gold_doc_ids": ["A"]}) + "\n"
        + json.dumps({"id": "q2", "question": "Which river flows through Paris?", "answers": ["the Seine"], "gold_doc_ids": ["B", "A"]}) + "\n"
        + json.dumps({"id": "q3", "question": "Where is Berlin?", "answers": ["Germany"], "gold_doc_ids": ["C"]}) + "\n")
    return suite


def test_hand_computed_scores_of_a_system_that_covers_two_of_three_queries(tmp_path):
    suite = hand_suite(tmp_path)
    outputs = tmp_path / "sys.jsonl"
    outputs.write_text(
        json.dumps({"query_id": "q1", "passages": [{"text": "Berlin is in Germany."}, {"doc_id": "A", "start": 0, "end": 5}], "answer": "Paris"}) + "\n"
        + json.dumps({"query_id": "q2", "passages": [{"doc_id": "B", "start": 4, "end": 9, "rank": 2}, {"text": "Paris  is the", "rank": 1}],
                      "answer": "the Loire"}) + "\n")
    run_dir, info = run(tmp_path, "task=generic", f"task.path={suite}", f"outputs.path={outputs}")
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    # q1: C then A -> gold A at rank 2: recall@5 1, MRR 1/2. q2: ranks 1 (A, found whitespace-insensitively) then 2 (B):
    # both gold docs in the top 2: recall 1, MRR 1. q3: the system gave nothing: recall 0, MRR 0, and no answer.
    assert records["doc_recall@5"].tolist() == [1.0, 1.0, 0.0] and records["doc_mrr@10"].tolist() == [0.5, 1.0, 0.0]
    assert list(records.loc["q2", "ranked_chunk_ids"]) == ["A#0-12", "B#4-9"]
    assert records.loc["q1", "answer_em"] == 1.0 and records.loc["q2", "answer_em"] == 0.0
    assert records.loc["q3", "generation_error"] == "the outputs file gives no answer for this query"
    report = info["retrieval"]["outputs"]
    assert report == {"queries_with_output": 2, "queries_without_output": 1, "passages": 4, "distinct_passages": 4, "answers": 2,
                      "passages_located_by": {"exact text": 1, "offsets": 2, "whitespace-insensitive text": 1}}
    with pytest.raises(ConfigError, match="reranker must be none with outputs.path"):
        run(tmp_path, "task=generic", f"task.path={suite}", f"outputs.path={outputs}", "reranker=cross_encoder")


JUDGE_BACKEND = '''
from ragsweep.llm.base import ChatBackend, Completion


class SaysParis(ChatBackend):
    """YES when the answer under judgement says Paris: a verdict that follows the outputs file's answer."""

    def complete(self, conversations, json_schema=None, desc="llm", max_tokens=None):
        said = lambda c: "Paris" in c[-1]["content"].split("Response:", 1)[-1].split("\\n")[0]
        return [Completion('{"verdict": "YES"}' if said(c) else '{"verdict": "NO"}', 5, 3) for c in conversations]
'''


def test_an_outputs_file_edited_in_place_is_scored_and_judged_again(tmp_path, monkeypatch):
    """The file's bytes are in every downstream key: the same path with another answer recomputes the answers'
    scores and the judge's verdicts; the same bytes again are served from the cache."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "outputs_judge.py").write_text(JUDGE_BACKEND)
    suite, outputs = hand_suite(tmp_path), tmp_path / "sys.jsonl"
    judged = ("task=generic", f"task.path={suite}", f"outputs.path={outputs}", "judge=llm", "judge.rubrics=[relevance]",
              "judge.models=[{backend: outputs_judge.SaysParis, model: s}]")

    def write(answer: str) -> None:
        outputs.write_text(json.dumps({"query_id": "q1", "passages": [{"doc_id": "A", "start": 0, "end": 31}], "answer": answer}) + "\n")

    def scored() -> tuple[float, float, str]:
        run_dir, info = run(tmp_path, *judged)
        q1 = pd.read_parquet(run_dir / "records.parquet").set_index("query_id").loc["q1"]
        return q1["answer_em"], q1["judge_relevance"], info["stages"]["judge"]["status"]

    write("Paris")
    assert scored() == (1.0, 1.0, "computed")
    assert scored() == (1.0, 1.0, "hit")
    write("Rome.")  # edited in place: same path, same length
    assert scored() == (0.0, 0.0, "computed")


SUITE_DOCS = [Document("A", "Paris is the capital of France."), Document("B", "The Seine flows through Paris.")]
SUITE_QUERIES = [Query("q1", "What is the capital of France?"), Query("q2", "Which river?")]


@pytest.mark.parametrize("name, content, expected", [
    ("o.jsonl", '{"query_id": "q9", "passages": []}', r"o.jsonl, record line 1, field 'query_id': query 'q9' is not in the suite"),
    ("o.jsonl", '{"query_id": "q1", "passages": []}\n{"query_id": "q1", "passages": []}', r"record line 2, field 'query_id': query 'q1' is given twice"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"doc_id": "A", "start": 0, "end": 5, "rank": 1}, {"doc_id": "B", "start": 0, "end": 3, "rank": 1}]}',
     r"record line 1, field 'passages': ranks must be given for every passage and be distinct \(rank 1 is not\)"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"doc_id": "A", "start": 0, "end": 5}, {"text": "Paris"}]}',
     r"record line 1, field 'passages': passage A#0-5 is ranked twice"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"doc_id": "A", "start": 10, "end": 99}]}',
     r"field 'passages\[0\]': offsets \[10, 99\) are not a passage of 'A' \(31 characters\)"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"text": "<b>London</b>"}]}',
     r"field 'passages\[0\].text': passage text not found in the corpus: '<b>London</b>'"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"doc_id": "../etc/passwd", "start": 0, "end": 1}]}',
     r"field 'passages\[0\]': document '../etc/passwd' is not in the suite's corpus"),
    ("o.jsonl", '{"query_id": "q1", "passages": [], "answer": ["Paris"]}', r"field 'answer': expected text, got list"),
    ("o.jsonl", '{"query_id": "q1", "passages": "A"}', r"field 'passages': expected a list of passages, got str"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"doc_id": "A", "start": "0", "end": 5}]}', r"field 'passages\[0\].start': expected an integer, got '0'"),
    ("o.jsonl", '{"query_id": "q1", "passages": [{"text": "Paris", "score": NaN}]}', r"field 'passages\[0\].score': expected a number, got nan"),
    ("o.jsonl", '{"query_id": "q1", "passages": [', r"o.jsonl, record line 1: not valid JSON"),
    ("o.trec", "q1 Q0 Z 1 2.0 t\n", r"record query q1, field 'item_id': item 'Z' is neither a document id of the suite nor doc_id#start-end"),
    ("o.trec", "q1 Q0 A 1 2.0\n", r"o.trec, record line 1: not ragsweep JSONL or ragas records .* not a TREC run \(a TREC run line has 6 fields, this one 5\)"),
    ("o.trec", "q1 Q0 A 1 2.0 t\nq1 Q0 A 2 1.0 t\n", r"record line 2, field 'item_id': query 'q1' retrieves 'A' twice"),
    ("r.json", '[{"question": "Who?", "contexts": []}]', r"r.json, record 0, field 'question': question 'Who\?' is not a question of the suite"),
    ("r.json", '[{"user_input": "Which river?", "retrieved_contexts": "Seine"}]', r"record 0, field 'retrieved_contexts': expected a list of context texts, got str"),
    ("o.jsonl", "", r"o.jsonl: no outputs in the file \(empty or blank lines only\): nothing to score"),
    ("o.jsonl", "\n  \n", r"o.jsonl: no outputs in the file"),
    ("o.trec", "", r"o.trec: no outputs in the file \(empty or blank lines only\)"),
    ("r.json", "[]", r"r.json: no outputs in the file \(empty or blank lines only\)"),
])
def test_bad_outputs_are_one_line_naming_file_record_and_field(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=expected):
        read_outputs(path, "auto", SUITE_QUERIES, SUITE_DOCS)


def test_formats_are_detected_and_an_unknown_one_named(tmp_path):
    from ragsweep.external.readers import detect_format

    cases = {"a.jsonl": '{"query_id": "q1", "passages": []}', "b.json": '[{"question": "x"}]', "c.jsonl": '{"user_input": "x"}', "d.trec": "q Q0 A 1 1 t",
             "e": "q Q0 A 1 1 t"}
    for file, text in cases.items():
        (tmp_path / file).write_text(text + "\n")
    assert {f: detect_format(tmp_path / f)[0] for f in cases} == {"a.jsonl": "jsonl", "b.json": "ragas", "c.jsonl": "ragas", "d.trec": "trec", "e": "trec"}
    with pytest.raises(DataError, match="unknown outputs.format 'csv'; one of auto, jsonl, trec, ragas"):
        read_outputs(tmp_path / "a.jsonl", "csv", SUITE_QUERIES, SUITE_DOCS)
    assert Corpus(SUITE_DOCS).locate("flows   through\nParis", None) == ("B", 10, 29, "whitespace-insensitive text")


def test_outputs_only_for_questions_a_limit_left_out_are_refused(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"query_id": "q2", "passages": [{"text": "Seine"}]}\n')
    assert [o.query_id for o in read_outputs(path, "auto", SUITE_QUERIES, SUITE_DOCS)] == ["q2"]
    with pytest.raises(DataError, match=r"o.jsonl: none of its 1 outputs is for the 1 questions task.limit kept"):
        read_outputs(path, "auto", SUITE_QUERIES[:1], SUITE_DOCS, limited=True)
