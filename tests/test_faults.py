"""Fault injection: every bad input, broken cache entry, failing LLM endpoint, hostile output value and
gate trick gives either the right number or one clear line (issue 10). Five suite formats, each built
valid by tests/fault_suites.py and then broken in one place; each test asserts the exact outcome."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import CacheError, ConfigError, DataError
from harness.registry import TASKS
from tests import fault_suites as fs
from tests.helpers import run, statuses

REPO = Path(__file__).resolve().parent.parent


def load(task: dict) -> tuple:
    return TASKS.build(dict(task)).checked_load()


@pytest.fixture(params=sorted(fs.FORMATS))
def suite(request, tmp_path):
    """(format name, task config, folder) of a valid suite in each format."""
    name = request.param
    task = fs.FORMATS[name](tmp_path / name)
    return name, task, Path(task["path"])


def test_every_valid_suite_loads(suite):
    _, task, _ = suite
    docs, queries = load(task)
    assert docs and queries


# ---------------------------------------------------------------- data ingestion: missing, undecodable, empty


def test_missing_questions_file_is_one_line_before_any_hashing(suite, tmp_path):
    name, task, root = suite
    (root / fs.QUESTIONS[name]).unlink()
    with pytest.raises(DataError) as err:
        run(tmp_path, *fs.overrides(task), "generator=none")
    assert str(err.value) == f"{root / fs.QUESTIONS[name]}: file not found (set task.path to the folder that holds this suite)"


@pytest.mark.parametrize("name, missing, expected", [
    ("hotpotqa", "corpus.json", "corpus.json: file not found"),
    ("multihop_rag", "ground_truth.json", "ground_truth.json: file not found"),
    ("nitibench", "laws", "laws: file not found"),
    ("chroma", "corpora/pump_manual.md", "questions_df.csv, record row 1, field 'corpus_id': corpus file "),
])
def test_missing_corpus_file_names_it(tmp_path, name, missing, expected):
    task = fs.FORMATS[name](tmp_path / name)
    target = Path(task["path"]) / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        run(tmp_path, *fs.overrides(task), "generator=none")


def test_non_utf8_bytes_name_file_and_offset(suite):
    name, task, root = suite
    path = root / fs.QUESTIONS[name]
    raw = path.read_bytes()
    offset = raw.index(b"question") + 2  # an ASCII byte in every format's questions file
    path.write_bytes(raw[:offset] + b"\xff" + raw[offset + 1 :])
    with pytest.raises(DataError, match=rf"{path.name}: not UTF-8: byte 0xff at byte offset {offset}$"):
        load(task)


def test_non_utf8_corpus_file(tmp_path):
    task = fs.chroma(tmp_path / "c")
    path = Path(task["path"]) / "corpora" / "council_minutes.md"
    path.write_bytes(path.read_bytes()[:50] + b"\xc3\x28" + path.read_bytes()[52:])
    with pytest.raises(DataError, match=r"council_minutes.md: not UTF-8: byte 0xc3 at byte offset 50"):
        load(task)


def _empty_questions(name: str, root: Path) -> None:
    path = root / fs.QUESTIONS[name]
    if name == "hotpotqa":
        path.write_text("[]")
    elif name == "musique":
        path.write_text("\n")
    elif name == "multihop_rag":
        path.write_text('{"queries": []}')
    else:
        path.write_text(path.read_text("utf-8").splitlines()[0] + "\n", "utf-8")  # the header alone


def test_a_suite_with_zero_questions_is_an_error_not_a_run(suite, tmp_path):
    name, task, root = suite
    _empty_questions(name, root)
    with pytest.raises(DataError, match="the suite has no questions"):
        run(tmp_path, *fs.overrides(task), "generator=none")
    assert not (tmp_path / "runs").exists()


def _set_question(name: str, root: Path, index: int, value) -> None:
    """Rewrite question ``index`` of the suite's questions file to ``value`` (any JSON value)."""
    path = root / fs.QUESTIONS[name]
    if name == "hotpotqa":
        rows = json.loads(path.read_text())
        rows[index]["question"] = value
        path.write_text(json.dumps(rows))
    elif name == "musique":
        rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
        rows[index]["question"] = value
        path.write_text("\n".join(json.dumps(r) for r in rows))
    elif name == "multihop_rag":
        data = json.loads(path.read_text())
        data["queries"][index]["question"] = value
        path.write_text(json.dumps(data))
    else:
        rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
        rows[index]["question"] = value
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        path.write_text(buf.getvalue(), "utf-8")


def test_whitespace_only_question_is_an_error(suite):
    name, task, root = suite
    _set_question(name, root, 1, "  \t ")
    with pytest.raises(DataError) as err:
        load(task)
    assert any(f"record {r}" in str(err.value) for r in ("1 (", "row 2", "line 2"))
    assert "'question'" in str(err.value) and "whitespace" in str(err.value)


@pytest.mark.parametrize("name", ["hotpotqa", "musique", "multihop_rag"])
def test_a_question_that_is_not_a_string_is_an_error(tmp_path, name):
    task = fs.FORMATS[name](tmp_path / name)
    _set_question(name, Path(task["path"]), 0, 42)
    with pytest.raises(DataError, match=r"field 'question': expected a string, got int"):
        load(task)


def test_every_bad_record_of_a_file_is_reported_in_one_error(tmp_path):
    task = fs.hotpotqa(tmp_path / "h")
    path = Path(task["path"]) / "questions.json"
    rows = json.loads(path.read_text())
    for i in (2, 5, 9):
        rows[i]["question"] = ""
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError) as err:
        load(task)
    text = str(err.value)
    assert text.startswith(f"{path}: 3 bad records: record 2 (_id mh03), field 'question'")
    assert "record 5 (_id mh06)" in text and "record 9 (_id mh10)" in text and "\n" not in text
    for i in range(16):
        rows[i]["question"] = ""
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"16 bad records: .*record 9 \(_id mh10\).*; and 6 more$"):
        load(task)


# ---------------------------------------------------------------- duplicates


def test_duplicate_question_ids_are_an_error(tmp_path):
    task = fs.hotpotqa(tmp_path / "h")
    path = Path(task["path"]) / "questions.json"
    rows = json.loads(path.read_text())
    rows[4]["_id"] = rows[1]["_id"]
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"questions.json, record 4 \(id mh02\), field 'id': question id appears twice"):
        load(task)


def test_duplicate_musique_ids_are_an_error(tmp_path):
    task = fs.musique(tmp_path / "m")
    path = Path(task["path"]) / "questions.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[0]]))
    with pytest.raises(DataError, match=r"record 3 \(id 2hop__0\), field 'id': question id appears twice"):
        load(task)


def test_duplicate_multihop_rag_ids_are_an_error(tmp_path):
    task = fs.multihop_rag(tmp_path / "r")
    path = Path(task["path"]) / "queries.json"
    data = json.loads(path.read_text())
    data["queries"][1]["id"] = "1"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"record 1 \(id 1\), field 'id': question id appears twice"):
        load(task)
    truth = Path(task["path"]) / "ground_truth.json"
    truth.write_text('{"1": {"answer": "a", "evidence_list": []}, "1": {"answer": "b", "evidence_list": []}}')
    with pytest.raises(DataError, match=r"ground_truth.json, field '1': key '1' appears twice"):
        load(task)


def test_duplicate_corpus_titles_and_urls_are_an_error(tmp_path):
    task = fs.hotpotqa(tmp_path / "h")
    path = Path(task["path"]) / "corpus.json"
    text = path.read_text()
    path.write_text(text.rstrip().removesuffix("}") + ', "Orla Venn": ["Another text."]\n}')
    with pytest.raises(DataError, match=r"corpus.json, field 'Orla Venn': key 'Orla Venn' appears twice"):
        load(task)
    task = fs.multihop_rag(tmp_path / "r")
    path = Path(task["path"]) / "corpus.json"
    corpus = json.loads(path.read_text())
    path.write_text(json.dumps(corpus + [{"title": "Alpha again", "url": "u/a", "body": "Replaced text."}]))
    with pytest.raises(DataError, match=r"corpus.json, record 2, field 'url': article 'u/a' appears twice"):
        load(task)


# ---------------------------------------------------------------- wrong shapes and types


@pytest.mark.parametrize("name, file, content, expected", [
    ("hotpotqa", "questions.json", '{"_id": "x"}', r"questions.json: expected a JSON list of records, got dict"),
    ("hotpotqa", "questions.json", '["q1", "q2"]', r"questions.json: 2 bad records: record 0: expected a JSON object, got str; record 1: expected"),
    ("hotpotqa", "corpus.json", '[["Orla Venn", ["text"]]]', r"corpus.json: expected a JSON object \{title: \[sentences\]\}, got list"),
    ("hotpotqa", "corpus.json", '{"Orla Venn": "not a list"}', r"corpus.json, record title 'Orla Venn': expected a list of sentence strings"),
    ("hotpotqa", "questions.json", "[{\"_id\": \"a\", \"question\": \"q?\", \"answer\": \"x\", \"supporting_facts\": [[\"Orla Venn\", \"0\"]]}]",
     r"record 0 \(_id a\), field 'supporting_facts': expected \[title, sentence index\] pairs \(sentence index '0' is not an integer\)"),
    ("hotpotqa", "questions.json", '[{"_id": "a", "question": "q?", "supporting_facts": []}]', r"record 0 \(_id a\), field 'answer': missing, empty"),
    ("musique", "questions.jsonl", '{"id": "2hop__1", "question": "q?", "answer": "a", "paragraphs": {"title": "t"}}',
     r"line 1 \(id 2hop__1\), field 'paragraphs': expected a list of paragraphs"),
    ("musique", "questions.jsonl", '{"id": "2hop__1", "question": "q?", "answer": "a", "paragraphs": [{"title": 5, "paragraph_text": "x"}]}',
     r"field 'paragraphs\[0\]': needs string title and paragraph_text"),
    ("musique", "questions.jsonl", '{"id": "2hop__1"\n', r"questions.jsonl, record line 1: invalid JSON"),
    ("musique", "questions.jsonl", '[1, 2]\n', r"questions.jsonl, record line 1: expected a JSON object, got list"),
    ("multihop_rag", "queries.json", '[{"id": "1"}]', r"queries.json, field 'queries': expected an object with a \"queries\" list, got list"),
    ("multihop_rag", "ground_truth.json", '[]', r"ground_truth.json: expected an object \{id: \{answer, evidence_list\}\}, got list"),
    ("multihop_rag", "corpus.json", '[{"title": "Alpha", "url": "u/a"}]', r"corpus.json, record 0 \(u/a\), field 'body': missing or not a string"),
    ("multihop_rag", "corpus.json", '[{"title": "Alpha", "url": "u/a", "body": 12}]', r"corpus.json, record 0 \(u/a\), field 'body': missing or not a string"),
    ("multihop_rag", "corpus.json", '{"u/a": "text"}', r"corpus.json: expected a JSON list of articles, got dict"),
    ("multihop_rag", "ground_truth.json", '{"1": {"answer": "300", "evidence_list": [{"url": "u/a"}]}, "2": {"answer": "x", "evidence_list": []}}',
     r"queries.json, record 0 \(id 1\), field 'fact': missing"),
    ("nitibench", "laws/community_water_act.json", '{"law_name": "x"}', r"community_water_act.json: expected a JSON list of sections, got dict"),
    ("nitibench", "laws/community_water_act.json", '[{"law_name": "x", "section_num": "1"}]', r"community_water_act.json, record 0, field 'section_content': missing"),
    ("nitibench", "questions.csv", "question,relevant_laws\nq?,\"{'law': 'x'}\"\n", r"questions.csv, record row 1, field 'relevant_laws': expected a list"),
    ("nitibench", "questions.csv", "question,relevant_laws\nq?,\"[{'law': ['x'], 'sections': '1'}]\"\n", r"field 'relevant_laws\[0\]': law must be a string"),
    ("chroma", "questions_df.csv", 'question,references,corpus_id\nq?,"{""content"": ""x""}",pump_manual\n', r"record row 1, field 'references': expected a JSON list, got dict"),
    ("chroma", "questions_df.csv", 'question,references,corpus_id\nq?,"[{""content"": ""x"", ""start_index"": ""3"", ""end_index"": 4}]",pump_manual\n',
     r"field 'references\[0\]': content must be a string and start_index, end_index integers"),
    ("chroma", "questions_df.csv", 'question,corpus_id\nq?,pump_manual\n', r"questions_df.csv, record header: missing column\(s\) references"),
])
def test_wrong_shapes_and_types_name_file_record_and_field(tmp_path, name, file, content, expected):
    task = fs.FORMATS[name](tmp_path / name)
    (Path(task["path"]) / file).write_text(content, "utf-8")
    with pytest.raises(DataError, match=expected):
        load(task)


# ---------------------------------------------------------------- gold spans and references


def test_zero_length_gold_span_is_an_error(tmp_path):
    task = fs.hotpotqa(tmp_path / "h")
    path = Path(task["path"]) / "corpus.json"
    corpus = json.loads(path.read_text())
    corpus["Orla Venn"][0] = ""  # mh01's second supporting sentence
    path.write_text(json.dumps(corpus))
    with pytest.raises(DataError, match=r"record 0 \(id mh01\), field 'gold_spans\[1\]': zero-length gold span Orla Venn\[0:0\)"):
        load(task)


def test_chroma_zero_length_reference_is_an_error(tmp_path):
    task = fs.chroma(tmp_path / "c")
    _rewrite_refs(Path(task["path"]), 0, lambda refs: [{**refs[0], "end_index": refs[0]["start_index"], "content": ""}])
    with pytest.raises(DataError, match=r"record row 1, field 'references\[0\]': span \[246:246\) is empty or inverted"):
        load(task)


def _rewrite_refs(root: Path, row: int, mutate) -> None:
    path = root / "questions_df.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    rows[row]["references"] = json.dumps(mutate(json.loads(rows[row]["references"])))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["question", "references", "corpus_id"])
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), "utf-8")


def test_chroma_csv_with_a_utf8_bom_loads(tmp_path):
    task = fs.chroma(tmp_path / "c")
    path = Path(task["path"]) / "questions_df.csv"
    clean = load(task)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load(task) == clean


@pytest.mark.parametrize("corpus_id", ["../../etc/passwd", "/etc/passwd", "..", "sub/../../x"])
def test_chroma_corpus_id_that_leaves_the_suite_is_refused(tmp_path, corpus_id):
    task = fs.chroma(tmp_path / "c")
    path = Path(task["path"]) / "questions_df.csv"
    path.write_text(path.read_text("utf-8").replace(",pump_manual\n", f",{corpus_id}\n", 1), "utf-8")
    with pytest.raises(DataError, match=r"record row 1, field 'corpus_id': corpus id .* points outside the suite folder"):
        load(task)
    remapped = {**task, "corpus_paths": {"pump_manual": "../outside.md"}}
    (tmp_path / "outside.md").write_text("secret")
    with pytest.raises(DataError, match="points outside the suite folder"):
        load(remapped)


def _published_defects(root: Path) -> None:
    """Row 1: a reference running 40 characters past its corpus; row 2: an empty reference list; row 3: a
    reference wholly past the end beside a good one."""
    corpus_len = len((root / "corpora" / "pump_manual.md").read_text("utf-8"))
    _rewrite_refs(root, 0, lambda refs: [{**refs[0], "end_index": corpus_len + 40}] if False else [
        {"content": "tail", "start_index": corpus_len - 10, "end_index": corpus_len + 40}])
    _rewrite_refs(root, 1, lambda refs: [])
    _rewrite_refs(root, 2, lambda refs: refs + [{"content": "gone", "start_index": corpus_len + 5, "end_index": corpus_len + 9}])


def test_invalid_reference_policy_error_is_the_default(tmp_path):
    task = fs.chroma(tmp_path / "c")
    _published_defects(Path(task["path"]))
    with pytest.raises(DataError) as err:
        load(task)
    text = str(err.value)
    assert "3 bad records" in text and "record row 1, field 'references[0]': span" in text and "on_invalid_reference=clip or skip" in text
    assert "record row 2, field 'references': empty reference list" in text


def test_invalid_reference_policy_clip_and_skip_count_everything(tmp_path):
    task = fs.chroma(tmp_path / "c")
    root = Path(task["path"])
    _published_defects(root)
    corpus_len = len((root / "corpora" / "pump_manual.md").read_text("utf-8"))
    clip = TASKS.build({**task, "on_invalid_reference": "clip"})
    _, queries = clip.checked_load()
    assert len(queries) == 14
    assert queries[0].gold_spans[0].start == corpus_len - 10 and queries[0].gold_spans[0].end == corpus_len
    assert queries[1].gold_spans == () and len(queries[2].gold_spans) == 1
    assert clip.describe() == {"on_invalid_reference": "clip", "clipped_references": 1, "skipped_references": 1,
                               "rows_without_references": 1, "skipped_rows": 0}
    skip = TASKS.build({**task, "on_invalid_reference": "skip"})
    _, queries = skip.checked_load()
    assert len(queries) == 12 and [q.query_id for q in queries][:2] == ["q0003", "q0004"]
    assert skip.describe() == {"on_invalid_reference": "skip", "clipped_references": 0, "skipped_references": 2,
                               "rows_without_references": 0, "skipped_rows": 2}
    with pytest.raises(ConfigError, match="on_invalid_reference must be one of error, clip, skip"):
        TASKS.build({**task, "on_invalid_reference": "ignore"})


def test_clipped_run_counts_affected_rows_in_run_json_metrics_and_leaderboard(tmp_path):
    from harness.report import load_runs, render

    task = fs.chroma(tmp_path / "c")
    _published_defects(Path(task["path"]))
    run_dir, info = run(tmp_path, *fs.overrides(task), "+task.on_invalid_reference=clip", "generator=none", "retriever=bm25")
    assert info["task"]["clipped_references"] == 1 and info["task"]["rows_without_references"] == 1
    assert info["unscored_queries"]["span_iou@5"] == 1  # the row without references: counted, not scored
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["span_iou@5"]["n"] == 13 and metrics["summary"]["n_queries"] == 14
    text = render(load_runs(tmp_path / "runs"))
    assert "Data: clipped_references: 1; on_invalid_reference: clip; rows_without_references: 1; skipped_references: 1" in text
    assert " n=13/14 |" in text


def test_a_query_without_gold_is_counted_beside_the_metric(tmp_path):
    from harness.report import load_runs, render

    task = fs.hotpotqa(tmp_path / "h")
    path = Path(task["path"]) / "questions.json"
    rows = json.loads(path.read_text())
    rows[3]["supporting_facts"] = []
    path.write_text(json.dumps(rows))
    run_dir, info = run(tmp_path, *fs.overrides(task), "generator=none", "retriever=bm25")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["doc_recall@5"]["n"] == 15 and info["unscored_queries"]["doc_recall@5"] == 1
    assert "doc_recall@5" not in pd.read_parquet(run_dir / "records.parquet").set_index("query_id").loc["mh04"].dropna()
    assert "n=15/16" in render(load_runs(tmp_path / "runs"))


# ---------------------------------------------------------------- config values


@pytest.mark.parametrize("override, message", [
    ("top_k=3", "top_k=3 is smaller than eval_k=10"),
    ("top_k=0", "top_k must be >= 1, got 0"),
    ("eval_k=[0,5]", r"eval_k\[0\] must be >= 1, got 0"),
    ("span_k=0", r"span_k\[0\] must be >= 1, got 0"),
    ("section_k=[1,50]", "top_k=20 is smaller than section_k=50"),
    ("keyword_k=30", "top_k=20 is smaller than keyword_k=30"),
    ("rerank_candidates=0", "rerank_candidates must be >= 1, got 0"),
    ("generator.context_k=-1", "generator.context_k must be >= 0, got -1"),
    ("seed=abc", "seed must be an integer, got 'abc'"),
    ("+task.limit=0", "task.limit must be >= 1, got 0"),
    ("retriever.k1=-0.5", r"retriever.k1 must be in \[0.0, inf\], got -0.5"),
    ("retriever.b=1.5", r"retriever.b must be in \[0.0, 1.0\], got 1.5"),
    ("sweep_name=../../x", "sweep_name must be a plain name"),
    ("sweep_name=/tmp/abs", "sweep_name must be a plain name"),
])
def test_bad_config_values_stop_before_any_work(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, "task=span_mini", "retriever=bm25", override)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


def test_hybrid_bm25_parameters_are_checked_too(tmp_path):
    with pytest.raises(ConfigError, match=r"retriever.retrievers\[0\].b must be in"):
        run(tmp_path, "task=span_mini", "retriever=hybrid", "retriever.retrievers.0.b=2")


def test_context_k_zero_is_said_in_the_run(tmp_path):
    _, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator.context_k=0")
    assert info["notes"] == ["generator.context_k=0: answers were generated with no retrieved context"]
