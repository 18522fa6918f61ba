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

from ragsweep.errors import CacheError, ConfigError, DataError
from ragsweep.registry import TASKS
from tests import fault_suites as fs
from tests.helpers import in_processes, run, statuses

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
    message = str(err.value)
    assert message.startswith(f"{root / fs.QUESTIONS[name]}: file not found") and "\n" not in message
    assert "set task.path to the folder" in message or "holds " in message  # where to point, or which files are there


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
    assert any(f"record {r}" in str(err.value) for r in ("2 (", "row 2", "line 2"))  # the second question, counted from 1
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
    assert text.startswith(f"{path}: 3 bad records: record 3 (_id mh03), field 'question'")
    assert "record 6 (_id mh06)" in text and "record 10 (_id mh10)" in text and "\n" not in text
    for i in range(16):
        rows[i]["question"] = ""
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"16 bad records: .*record 10 \(_id mh10\).*; and 6 more$"):
        load(task)


# ---------------------------------------------------------------- duplicates


def test_duplicate_question_ids_are_an_error(tmp_path):
    task = fs.hotpotqa(tmp_path / "h")
    path = Path(task["path"]) / "questions.json"
    rows = json.loads(path.read_text())
    rows[4]["_id"] = rows[1]["_id"]
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"questions.json, record 5 \(id mh02\), field 'id': question id appears twice"):
        load(task)


def test_duplicate_musique_ids_are_an_error(tmp_path):
    task = fs.musique(tmp_path / "m")
    path = Path(task["path"]) / "questions.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[0]]))
    with pytest.raises(DataError, match=r"record 4 \(id 2hop__0\), field 'id': question id appears twice"):
        load(task)


def test_duplicate_multihop_rag_ids_are_an_error(tmp_path):
    task = fs.multihop_rag(tmp_path / "r")
    path = Path(task["path"]) / "queries.json"
    data = json.loads(path.read_text())
    data["queries"][1]["id"] = "1"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"record 2 \(id 1\), field 'id': question id appears twice"):
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
    with pytest.raises(DataError, match=r"corpus.json, record 3, field 'url': article 'u/a' appears twice"):
        load(task)


def test_conflicting_context_titles_without_a_corpus_are_counted(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    rows = [
        {"_id": "a", "question": "Who?", "answer": "X", "supporting_facts": [["T", 0]], "context": [["T", ["X is here."]]]},
        {"_id": "b", "question": "What?", "answer": "Y", "supporting_facts": [["T", 0]], "context": [["T", ["Y is here."]]]},
    ]
    (root / "dev.json").write_text(json.dumps(rows))
    task = TASKS.build({"name": "hotpotqa", "path": str(root), "questions": "dev.json", "corpus": None})
    docs, _ = task.checked_load()
    assert [d.text for d in docs] == ["X is here."] and task.describe() == {"context_title_conflicts": 1}


# ---------------------------------------------------------------- wrong shapes and types


@pytest.mark.parametrize("name, file, content, expected", [
    ("hotpotqa", "questions.json", '{"_id": "x"}', r"questions.json: expected a JSON list of records, got dict"),
    ("hotpotqa", "questions.json", '["q1", "q2"]', r"questions.json: 2 bad records: record 1: expected a JSON object, got str; record 2: expected"),
    ("hotpotqa", "corpus.json", '[["Orla Venn", ["text"]]]', r"corpus.json, record 1: expected \{\"title\": str, \"text\": str\}"),
    ("hotpotqa", "corpus.json", '"Orla Venn"', r"corpus.json: expected \{title: \[sentences\]\} or \[\{title, text\}\], got str"),
    ("hotpotqa", "corpus.json", '{"Orla Venn": "not a list"}', r"corpus.json, record title 'Orla Venn': expected a list of sentence strings"),
    ("hotpotqa", "questions.json", "[{\"_id\": \"a\", \"question\": \"q?\", \"answer\": \"x\", \"supporting_facts\": [[\"Orla Venn\", \"0\"]]}]",
     r"record 1 \(_id a\), field 'supporting_facts': expected \[title, sentence index\] pairs \(sentence index '0' is not an integer\)"),
    ("hotpotqa", "questions.json", '[{"_id": "a", "question": "q?", "supporting_facts": []}]', r"record 1 \(_id a\), field 'answer': missing, empty"),
    ("musique", "questions.jsonl", '{"id": "2hop__1", "question": "q?", "answer": "a", "paragraphs": {"title": "t"}}',
     r"line 1 \(id 2hop__1\), field 'paragraphs': expected a list of paragraphs"),
    ("musique", "questions.jsonl", '{"id": "2hop__1", "question": "q?", "answer": "a", "paragraphs": [{"title": 5, "paragraph_text": "x"}]}',
     r"field 'paragraphs\[0\]': needs string title and paragraph_text"),
    ("musique", "questions.jsonl", '{"id": "2hop__1"\n', r"questions.jsonl, record line 1: invalid JSON"),
    ("musique", "questions.jsonl", '[1, 2]\n', r"questions.jsonl, record line 1: expected a JSON object, got list"),
    ("multihop_rag", "queries.json", '[{"id": "1"}]', r"queries.json, field 'queries': expected an object with a \"queries\" list, got list"),
    ("multihop_rag", "ground_truth.json", '[]', r"ground_truth.json: expected an object \{id: \{answer, evidence_list\}\}, got list"),
    ("multihop_rag", "corpus.json", '[{"title": "Alpha", "url": "u/a"}]', r"corpus.json, record 1 \(u/a\), field 'body': missing or not a string"),
    ("multihop_rag", "corpus.json", '[{"title": "Alpha", "url": "u/a", "body": 12}]', r"corpus.json, record 1 \(u/a\), field 'body': missing or not a string"),
    ("multihop_rag", "corpus.json", '{"u/a": "text"}', r"corpus.json: expected a JSON list of articles, got dict"),
    ("multihop_rag", "ground_truth.json", '{"1": {"answer": "300", "evidence_list": [{"url": "u/a"}]}, "2": {"answer": "x", "evidence_list": []}}',
     r"queries.json, record 1 \(id 1\), field 'fact': missing"),
    ("nitibench", "laws/community_water_act.json", '{"law_name": "x"}', r"community_water_act.json: expected a JSON list of sections, got dict"),
    ("nitibench", "laws/community_water_act.json", '[{"law_name": "x", "section_num": "1"}]', r"community_water_act.json, record 1, field 'section_content': missing"),
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
    with pytest.raises(DataError, match=r"record 1 \(id mh01\), field 'gold_spans\[1\]': zero-length gold span Orla Venn\[0:0\)"):
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
    assert "3 bad records" in text and "record row 1, field 'references[0]': span" in text and "on_invalid_reference=clip, skip or reference" in text
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
    assert clip.describe() == {"on_invalid_reference": "clip", "clipped_references": 1, "skipped_references": 1, "past_end_references": 0,
                               "rows_without_references": 1, "skipped_rows": 0}
    skip = TASKS.build({**task, "on_invalid_reference": "skip"})
    _, queries = skip.checked_load()
    assert len(queries) == 12 and [q.query_id for q in queries][:2] == ["q0003", "q0004"]
    assert skip.describe() == {"on_invalid_reference": "skip", "clipped_references": 0, "skipped_references": 2, "past_end_references": 0,
                               "rows_without_references": 0, "skipped_rows": 2}
    with pytest.raises(ConfigError, match="on_invalid_reference must be one of error, clip, skip"):
        TASKS.build({**task, "on_invalid_reference": "ignore"})


def test_clipped_run_counts_affected_rows_in_run_json_metrics_and_leaderboard(tmp_path):
    from ragsweep.analysis.leaderboard import load_runs
    from ragsweep.analysis.report import render

    task = fs.chroma(tmp_path / "c")
    _published_defects(Path(task["path"]))
    run_dir, info = run(tmp_path, *fs.overrides(task), "task.on_invalid_reference=clip", "generator=none", "retriever=bm25")
    assert info["task"]["clipped_references"] == 1 and info["task"]["rows_without_references"] == 1
    assert info["unscored_queries"]["span_iou@5"] == 1  # the row without references: counted, not scored
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["span_iou@5"]["n"] == 13 and metrics["summary"]["n_queries"] == 14
    text = render(load_runs(tmp_path / "runs"))
    assert "Data: clipped_references: 1; on_invalid_reference: clip; rows_without_references: 1; skipped_references: 1" in text
    assert " n=13/14 |" in text


def test_a_query_without_gold_is_counted_beside_the_metric(tmp_path):
    from ragsweep.analysis.leaderboard import load_runs
    from ragsweep.analysis.report import render

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
    ("task.limit=0", "task.limit must be >= 1, got 0"),
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


# ---------------------------------------------------------------- cache integrity


def _truncate(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _flip(raw: bytes) -> bytes:
    i = len(raw) - 7
    return raw[:i] + bytes([raw[i] ^ 0x10]) + raw[i + 1 :]


def _non_gzip(raw: bytes) -> bytes:
    """A well-formed checksummed entry whose payload is not gzip (nor a pickle)."""
    import hashlib

    from ragsweep.store.cache import MAGIC

    payload = b"this is not gzip data"
    return MAGIC + hashlib.sha256(payload).digest() + payload


def _unpicklable(raw: bytes) -> bytes:
    import hashlib
    import pickle

    from ragsweep.store.cache import MAGIC

    payload = pickle.dumps({"x": 1})[:-3]  # a pickle cut short: checksum fine, load fails
    return MAGIC + hashlib.sha256(payload).digest() + payload


CORRUPTIONS = {"truncated": _truncate, "zero_length": lambda raw: b"", "bit_flip": _flip, "non_gzip": _non_gzip, "unpicklable": _unpicklable}


def _comparable(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "records.parquet").drop(columns=["latency_s"], errors="ignore")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clean")
    run_dir, _ = run(tmp, "task=multihop_mini", "retriever=bm25", "generator=extractive")
    return _comparable(run_dir)


@pytest.mark.parametrize("fault", sorted(CORRUPTIONS))
def test_corrupt_cache_entries_are_moved_aside_and_recomputed(tmp_path, clean_run, fault, caplog):
    overrides = ("task=multihop_mini", "retriever=bm25", "generator=extractive")
    run(tmp_path, *overrides)
    entries = [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".gz", ".pkl")]
    assert {p.parent.parent.name for p in entries} == {"load", "chunk", "index", "retrieve", "generate"}
    for p in entries:
        p.write_bytes(CORRUPTIONS[fault](p.read_bytes()))
    caplog.set_level(logging.WARNING)
    run_dir, info = run(tmp_path, *overrides)
    assert statuses(info) == {"load": "computed", "chunk": "computed", "index": "computed", "retrieve": "computed",
                              "rerank": "skipped", "generate": "computed", "judge": "skipped", "assess": "skipped"}
    pd.testing.assert_frame_equal(_comparable(run_dir), clean_run)
    assert len(list((tmp_path / "cache").rglob("*.corrupt"))) >= 4
    assert caplog.text.count("corrupt cache entry") >= 4 and "moved aside" in caplog.text
    _, again = run(tmp_path, *overrides)  # the recomputed entries are sound
    assert set(statuses(again).values()) <= {"hit", "skipped"}


def test_cache_files_get_the_umask_permissions(tmp_path):
    old = os.umask(0o002)
    try:
        run_dir, _ = run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none")
    finally:
        os.umask(old)
    files = [p for p in [*(tmp_path / "cache").rglob("*.gz"), *(tmp_path / "cache").rglob("*.pkl"), *run_dir.iterdir()] if p.is_file()]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o664)}


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # what a read-only mount does to a writer (root ignores chmod)
    with pytest.raises(CacheError, match=r"^cannot write to .*/cache/load/.. \(Read-only file system\): point cache_dir"):
        run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none")


@pytest.mark.parametrize("damage", ["vector_bitflip", "key_bitflip", "truncate", "empty", "garbage"])
def test_corrupt_embedding_segment_is_moved_aside_and_recomputed(tmp_path, caplog, damage):
    import numpy as np

    from ragsweep.store.embedding_cache import EmbeddingCache

    EmbeddingCache(tmp_path / "e").encode("m", ["a", "b"], lambda t: np.ones((len(t), 2)))
    [segment] = (tmp_path / "e").rglob("*.emb")
    raw = segment.read_bytes()
    segment.write_bytes({
        "vector_bitflip": raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:], "key_bitflip": raw[:130] + bytes([raw[130] ^ 1]) + raw[131:],
        "truncate": raw[:-4], "empty": b"", "garbage": b"garbage" * 100,
    }[damage])
    caplog.set_level(logging.WARNING)
    vecs, hits = EmbeddingCache(tmp_path / "e").encode("m", ["a", "b"], lambda t: np.full((len(t), 2), 2.0))
    assert hits == 0 and vecs.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert f"corrupt embedding segment {segment}" in caplog.text and segment.with_name(segment.name + ".corrupt").exists()


def _encode_in_process(path: str, marker_dir: str, worker: int, barrier) -> None:
    import numpy as np

    from ragsweep.store.embedding_cache import EmbeddingCache

    def encode(texts):
        Path(marker_dir, f"{worker}-{len(texts)}").touch()
        return np.ones((len(texts), 4), dtype=np.float32)

    barrier.wait(30)  # every job asks for the same texts at once
    EmbeddingCache(path).encode("model", [f"text {i}" for i in range(50)], encode)


@pytest.mark.process
def test_concurrent_jobs_encode_each_text_once(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    in_processes(_encode_in_process, [(str(tmp_path / "e"), str(markers), i) for i in range(3)])
    assert len(list(markers.iterdir())) == 1  # one job encoded all 50 texts; the others read them


def test_corrupt_request_cache_entry_is_requested_again(isolated_cache):
    from ragsweep.llm.openai_server import OpenAIBackend
    from tests.loopback_openai import LoopbackServer

    with LoopbackServer(_answer) as server:
        backend = OpenAIBackend(model="m", base_url=server.url, backoff_s=0.01)
        conversation = [[{"role": "user", "content": "where?"}]]
        assert backend.complete(conversation)[0].text == "Hallowmere"
        [entry] = (isolated_cache / "openai_requests").rglob("*.json")
        entry.write_bytes(entry.read_bytes()[:-5])
        assert backend.complete(conversation)[0].text == "Hallowmere" and server.calls == 2
        assert backend.complete(conversation)[0].text == "Hallowmere" and server.calls == 2  # stored again, soundly


# ---------------------------------------------------------------- LLM calls: failures are never final


def _answer(body):
    return "Hallowmere"


def _openai_generator(url: str, **extra: str) -> list[str]:
    return ["generator=openai", f"generator.base_url={url}", "generator.model=m", "+generator.backoff_s=0.01",
            "generator.max_retries=0", *(f"generator.{k}={v}" for k, v in extra.items())]


def test_failed_generations_in_the_generate_stage_are_retried(tmp_path, caplog):
    """A sweep run while the server failed: the stage entry holding the failures is repaired in place on the
    next run (only the failed queries are asked again), never served as final."""
    from tests.loopback_openai import LoopbackServer

    with LoopbackServer(_answer, failures=5) as server:
        overrides = ("task=multihop_mini", "retriever=bm25", *_openai_generator(server.url, concurrency=1))
        run_dir, first = run(tmp_path, *overrides)
        assert json.loads((run_dir / "metrics.json").read_text())["summary"]["generation_errors"] == 5
        caplog.set_level(logging.WARNING)
        run_dir, second = run(tmp_path, *overrides)
        assert "generate: 5 failed LLM results in the cache are retried (11 successful ones kept)" in caplog.text
        assert second["stages"]["generate"]["status"] == "computed" and server.calls == 21
        assert json.loads((run_dir / "metrics.json").read_text())["summary"]["generation_errors"] == 0
        _, third = run(tmp_path, *overrides)
        assert third["stages"]["generate"]["status"] == "hit" and server.calls == 21


def test_empty_and_null_completions_are_failed_generations(tmp_path):
    from tests.loopback_openai import LoopbackServer

    replies = iter(["", None, "   "] + ["Hallowmere"] * 100)
    with LoopbackServer(lambda body: next(replies)) as server:
        run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", *_openai_generator(server.url, concurrency=1))
    records = pd.read_parquet(run_dir / "records.parquet")
    failed = records[records["generation_error"].notna()]
    assert len(failed) == 3 and set(failed["generation_error"]) == {"empty completion: the model returned no text"}
    assert failed["answer_f1"].isna().all()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["summary"]["generation_errors"] == 3 and metrics["metrics"]["answer_f1"]["n"] == 13
    assert metrics["summary"]["answer_valid"] == pytest.approx(13 / 16)


def test_a_reply_longer_than_max_tokens_is_cut_and_flagged(tmp_path):
    from tests.loopback_openai import LoopbackServer

    long = " ".join(f"word{i}" for i in range(400))
    with LoopbackServer(lambda body: long, completion_tokens=900) as server:
        run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", *_openai_generator(server.url), "generator.max_tokens=8")
    records = pd.read_parquet(run_dir / "records.parquet")
    assert records["answer_truncated"].all() and (records["completion_tokens"] == 8).all()
    from ragsweep.text import tiktoken_encoding

    assert all(len(tiktoken_encoding("cl100k_base").encode(a)) <= 8 for a in records["answer"])
    assert json.loads((run_dir / "metrics.json").read_text())["summary"]["answers_truncated"] == 16


def test_credentials_echoed_by_a_server_never_reach_records_cache_or_log(tmp_path, caplog, monkeypatch):
    from tests.loopback_openai import LoopbackServer

    key = "sk-live-THISISASECRETKEY123456"
    monkeypatch.setenv("OPENAI_API_KEY", key)

    def echo_headers(headers) -> bytes:
        return json.dumps({"error": {"message": f"invalid key; you sent Authorization: {headers['Authorization']} and api_key={key}"}}).encode()

    caplog.set_level(logging.INFO)
    with LoopbackServer(_answer, failures=10_000, status=401, error_body=echo_headers) as server:
        run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", *_openai_generator(server.url))
    records = pd.read_parquet(run_dir / "records.parquet")
    assert records["generation_error"].str.contains("[REDACTED]", regex=False).all()
    everything = records.to_json() + caplog.text
    everything += "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert key not in everything and "THISISASECRET" not in everything


def test_refusals_from_a_judge_are_invalid_and_counted(tmp_path):
    from tests.loopback_openai import LoopbackServer

    def refuse(body):
        return "Yes, I understand the task, but I cannot evaluate this answer."

    with LoopbackServer(refuse) as server:
        overrides = ["task=multihop_mini", "retriever=bm25", "generator=extractive", "judge=openai", f"judge.models.0.base_url={server.url}", "judge.rubrics=[faithfulness,relevance,correctness]"]
        run_dir, _ = run(tmp_path, *overrides)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for rubric in ("faithfulness", "relevance", "correctness"):
        assert metrics["summary"][f"judge_{rubric}_valid"] == 0.0 and metrics["summary"][f"judge_{rubric}_attempted"] == 16
        assert f"judge_{rubric}" not in metrics["metrics"] or metrics["metrics"][f"judge_{rubric}"]["n"] == 0


def test_failed_judge_calls_are_judged_again_by_the_next_run(tmp_path, caplog):
    from tests.loopback_openai import LoopbackServer

    with LoopbackServer(lambda body: '{"verdict": "YES"}', failures=16) as server:
        overrides = ["task=multihop_mini", "retriever=bm25", "generator=extractive", "judge=openai", f"judge.models.0.base_url={server.url}", "judge.rubrics=[faithfulness]", "+judge.models.0.max_retries=0"]
        run_dir, _ = run(tmp_path, *overrides)
        assert json.loads((run_dir / "metrics.json").read_text())["summary"]["judge_faithfulness_valid"] == 0.0
        caplog.set_level(logging.WARNING)
        run_dir, info = run(tmp_path, *overrides)
        assert "judge: 16 failed LLM results in the cache are retried (0 successful ones kept)" in caplog.text
        assert info["stages"]["judge"]["status"] == "computed"
        assert json.loads((run_dir / "metrics.json").read_text())["summary"]["judge_faithfulness_valid"] == 1.0


# ---------------------------------------------------------------- sweeps


@pytest.mark.process
def test_one_failed_job_does_not_abort_the_sweep(tmp_path):
    cmd = [sys.executable, "-m", "ragsweep.commands.run", "-m", "task=span_mini,multihop_mini", "retriever=bm25", "top_k=3,20", "generator=none",
           "progress=false", "sweep_name=faulty", f"cache_dir={tmp_path}/cache", f"results_dir={tmp_path}/runs", f"hydra.sweep.dir={tmp_path}/hydra"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text[-3000:]
    assert len(list((tmp_path / "runs" / "faulty").glob("*/metrics.json"))) == 2
    assert "2 of 4 runs failed:" in text
    assert text.count("top_k=3 is smaller than eval_k=10") >= 2 and "Traceback" not in text
    # the results table still shows what was written: one run per suite
    assert "span_mini (14 queries, 1 runs)" in out.stdout and "multihop_mini (16 queries, 1 runs)" in out.stdout


@pytest.mark.process
def test_a_job_that_died_without_a_word_counts_as_failed(tmp_path):
    from ragsweep.commands.sweep_status import read_statuses, summarize, write_status

    for n in range(3):
        (tmp_path / str(n)).mkdir()
    write_status(tmp_path / "0", True, "runs/a")
    write_status(tmp_path / "2", False, "bad input")
    statuses_ = read_statuses(tmp_path)
    assert statuses_ == [("0", True, "runs/a"), ("1", False, "the job ended without a result (killed or crashed before it could report)"),
                         ("2", False, "bad input")]
    assert summarize(statuses_) == 1 and summarize(statuses_[:1]) == 0


def test_jobs_that_end_at_once_count_one_another_once(tmp_path, monkeypatch, caplog):
    """Eight jobs write their status at the same moment (each write slowed to widen the window): the progress lines
    say 1 to 8 of 8, each number once."""
    import logging
    import re
    import threading
    import time

    from ragsweep.commands import sweep_status
    from ragsweep.store import cache

    real = cache.atomic_write_bytes

    def slow_write(path, data):
        time.sleep(0.05)
        real(path, data)

    monkeypatch.setattr(cache, "atomic_write_bytes", slow_write)
    (tmp_path / sweep_status.TOTAL_FILE).write_text("8")
    for n in range(8):
        (tmp_path / str(n)).mkdir()
    with caplog.at_level(logging.INFO, logger="ragsweep.sweep"):
        threads = [threading.Thread(target=sweep_status.write_status, args=(tmp_path / str(n), True, "runs/x")) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    done = sorted(int(re.match(r"sweep progress: (\d+) of 8", r.getMessage()).group(1)) for r in caplog.records if r.name == "ragsweep.sweep")
    assert done == list(range(1, 9))


# ---------------------------------------------------------------- report


def _fake_run(root: Path, sweep: str, name: str, *, task="span_mini", identity="d1", chunker="fixed", values=None, n_queries=14, prefix="q"):
    """A run folder as the runner writes it, with chosen per-query values (metric span_iou@5)."""
    run_dir = root / sweep / name
    run_dir.mkdir(parents=True)
    values = values if values is not None else [0.2] * n_queries
    pd.DataFrame({"query_id": [f"{prefix}{i:04d}" for i in range(len(values))], "span_iou@5": values,
                  "doc_recall@5": [1.0] * len(values)}).to_parquet(run_dir / "records.parquet")
    mean = sum(values) / len(values)
    metrics = {
        "sweep": sweep, "headline": "span_iou@5", "data_identity": identity,
        "choices": {"task": task, "chunker": chunker},
        "components": {"chunker": chunker, "retriever": "bm25", "reranker": "none", "generator": "none", "judge": "none"},
        "summary": {"n_queries": len(values), "n_chunks": 10, "mean_chunk_chars": 250.0},
        "metrics": {"span_iou@5": {"mean": mean, "std": 0.0, "ci_low": mean, "ci_high": mean, "n": len(values)},
                    "doc_recall@5": {"mean": 1.0, "std": 0.0, "ci_low": 1.0, "ci_high": 1.0, "n": len(values)}},
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "run.json").write_text(json.dumps({"task": {}}))
    return run_dir


def test_leaderboard_keeps_data_sets_apart_under_one_task_name(tmp_path):
    from ragsweep.analysis.leaderboard import load_runs
    from ragsweep.analysis.report import render

    _fake_run(tmp_path, "s", "real_a", identity="aaaa1111", values=[0.5] * 472)
    _fake_run(tmp_path, "s", "real_b", identity="aaaa1111", chunker="semantic", values=[0.4] * 472)
    _fake_run(tmp_path, "s", "mine", identity="bbbb2222", chunker="recursive", values=[0.9] * 5)
    text = render(load_runs(tmp_path))
    assert "## span_mini [data aaaa1111] (472 queries, 2 runs)" in text
    assert "## span_mini [data bbbb2222] (5 queries, 1 runs)" in text
    mine = text.split("[data bbbb2222]")[1]
    assert "| best |" in mine and "p=" not in mine  # alone in its group: never paired with the 472-question runs


@pytest.mark.process
def test_report_cli_sorts_html_by_the_suite_headline(tmp_path):
    for name, iou, chunker in (("a", 0.1, "fixed"), ("b", 0.3, "semantic"), ("c", 0.2, "cluster")):
        _fake_run(tmp_path / "runs", "s", name, chunker=chunker, values=[iou] * 14)
    out = subprocess.run([sys.executable, "-m", "ragsweep", "report", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "lb.md")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "lb.html").read_text()
    data = json.loads(page.split('<script id="data" type="application/json">')[1].split("</script>")[0])
    suite = data["suites"][0]
    assert [r["chunker"] for r in suite["rows"]] == ["semantic", "cluster", "fixed"]  # by span_iou@5, not doc_recall@5
    assert [c["key"] for c in suite["columns"][:3]] == ["sweep", "span_iou@5", "vs_best"]


HOSTILE = '<img src=x onerror="document.title=\'pwned\'">|</script><script>document.title="pwned2"</script>'


@pytest.mark.process
def test_hostile_values_are_text_in_html_and_markdown(tmp_path):
    from ragsweep.analysis.leaderboard import load_runs
    from ragsweep.analysis.report import render
    from ragsweep.analysis.report_html import render_html

    _fake_run(tmp_path / "runs", "s", "a", chunker=HOSTILE)
    _fake_run(tmp_path / "runs", "s", "b", chunker="fixed", values=[0.1] * 14)
    runs = load_runs(tmp_path / "runs")
    md = render(runs)
    assert "<img" not in md and "&lt;img src=x" in md and "\\|&lt;/script&gt;" in md
    page = render_html(runs)
    assert "<img src=x" not in page and "</script><script>" not in page and "innerHTML" not in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed: the markup checks above ran, the browser check did not")
    path = tmp_path / "lb.html"
    path.write_text(page, "utf-8")
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom", f"file://{path}"],
                         capture_output=True, text=True, timeout=120)
    assert "<title>ragsweep leaderboard</title>" in out.stdout and "pwned" not in out.stdout.split("<body>")[0]
    assert "&lt;img src=x onerror=" in out.stdout  # shown as text in the table cell


def test_unreadable_run_folders_are_named_and_skipped(tmp_path, caplog):
    from ragsweep.analysis.leaderboard import load_runs
    from ragsweep.analysis.report import render

    _fake_run(tmp_path, "s", "good")
    bad = _fake_run(tmp_path, "s", "truncated")
    (bad / "metrics.json").write_text((bad / "metrics.json").read_text()[:40])
    gone = _fake_run(tmp_path, "s", "no_records")
    (gone / "records.parquet").unlink()
    junk = _fake_run(tmp_path, "s", "junk_records")
    (junk / "records.parquet").write_bytes(b"PAR1 not really")
    caplog.set_level(logging.WARNING)
    runs = load_runs(tmp_path)
    assert [r["path"].name for r in runs] == ["good"]
    for name in ("truncated", "no_records", "junk_records"):
        assert f"skipping unreadable run {tmp_path / 's' / name}" in caplog.text
    assert "(14 queries, 1 runs)" in render(runs)


# ---------------------------------------------------------------- gate


@pytest.fixture()
def gate_runs(tmp_path):
    from ragsweep.analysis.gate import main

    run_dir = _fake_run(tmp_path / "runs", "ci", "span_mini__fixed__bm25__x", values=[0.2 + 0.01 * i for i in range(14)])
    baseline = tmp_path / "baseline.json"
    assert main(["--runs", str(tmp_path / "runs"), "--baseline", str(baseline), "--write"]) == 0
    return tmp_path, run_dir, baseline


def _gate(tmp_path, baseline, caplog) -> tuple[int, str]:
    from ragsweep.analysis.gate import main

    caplog.clear()
    caplog.set_level(logging.INFO)
    return main(["--runs", str(tmp_path / "runs"), "--baseline", str(baseline)]), caplog.text


def test_gate_passes_on_its_own_runs(gate_runs, caplog):
    tmp_path, _, baseline = gate_runs
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 0 and "gate passed" in text


def test_gate_fails_when_the_easiest_queries_alone_were_scored(gate_runs, caplog):
    tmp_path, run_dir, baseline = gate_runs
    shutil.rmtree(run_dir)
    _fake_run(tmp_path / "runs", "ci", "span_mini__fixed__bm25__x", values=[0.9] * 5)  # 5 of 14 queries, all "better"
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 1 and "QUERY SET CHANGED: 5 queries scored vs 14 in the baseline (9 missing, 0 new)" in text


def test_gate_fails_on_changed_data(gate_runs, caplog):
    tmp_path, run_dir, baseline = gate_runs
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["data_identity"] = "other"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 1 and "DATA CHANGED" in text


def test_gate_fails_on_a_nan_mean(gate_runs, caplog):
    tmp_path, run_dir, baseline = gate_runs
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["metrics"]["span_iou@5"]["mean"] = float("nan")
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 1 and "| span_iou@5 |" in text and "NaN mean" in text
    data = json.loads(baseline.read_text())
    data["runs"]["span_mini__fixed__bm25"]["metrics"]["doc_recall@5"] = float("nan")
    baseline.write_text(json.dumps(data))
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 1 and "BAD BASELINE: mean nan is not a number" in text


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d.update(runs={}), "BAD BASELINE: it holds no runs"),
    (lambda d: d.pop("runs"), "BAD BASELINE: it holds no runs"),
    (lambda d: d["runs"]["span_mini__fixed__bm25"].update(metrics={}), "BAD BASELINE: the run has no metrics"),
    (lambda d: d.update(tolerance="0.5"), "BAD BASELINE: tolerance '0.5' is not a number >= 0"),
    (lambda d: d.update(tolerances={"span_iou@5": None}), "BAD BASELINE: tolerance None is not a number >= 0"),
    (lambda d: d.update(tolerance=float("inf")), "BAD BASELINE: tolerance inf is not a number >= 0"),
    (lambda d: d.update(tolerance=-1), "BAD BASELINE: tolerance -1 is not a number >= 0"),
    (lambda d: d["runs"]["span_mini__fixed__bm25"].pop("data_identity"),
     "BAD BASELINE: the run has no data identity, so changed data cannot be told apart (rewrite it with `ragsweep gate --write`)"),
    (lambda d: d["runs"]["span_mini__fixed__bm25"].update(metrics=[0.5]), "BAD BASELINE: metrics is a list, not a mapping of metric to mean"),
    (lambda d: d["runs"]["span_mini__fixed__bm25"].update(per_query=["q1"]), "BAD BASELINE: per_query is a list, not a mapping of metric to per-query values"),
    (lambda d: d["runs"]["span_mini__fixed__bm25"]["per_query"].update({"doc_recall@5": {"q1": "0.5"}}),
     "BAD BASELINE: per_query of doc_recall@5 is not a mapping of query id to number"),
])
def test_gate_fails_on_a_baseline_it_cannot_check_against(gate_runs, caplog, mutate, reason):
    tmp_path, _, baseline = gate_runs
    data = json.loads(baseline.read_text())
    mutate(data)
    baseline.write_text(json.dumps(data))
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 1 and reason in text and "gate FAILED" in text


def test_gate_fails_on_an_unreadable_baseline(gate_runs, caplog):
    tmp_path, _, baseline = gate_runs
    baseline.write_text('{"runs": {')
    code, text = _gate(tmp_path, baseline, caplog)
    assert code == 1 and "unreadable baseline" in text


def test_a_huge_reply_that_claims_few_tokens_is_cut_by_the_harness_count(tmp_path):
    """A server that returns megabytes while its usage block claims 5 tokens: cut to max_tokens by the
    harness's own count and flagged, and the request cache stays small."""
    from tests.loopback_openai import LoopbackServer
    from ragsweep.text import tiktoken_encoding

    huge = "flood " * 400_000  # 2.4 M characters
    with LoopbackServer(lambda body: huge, completion_tokens=5) as server:
        run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", *_openai_generator(server.url), "generator.max_tokens=8")
    records = pd.read_parquet(run_dir / "records.parquet")
    assert records["answer_truncated"].all() and (records["completion_tokens"] == 8).all()
    assert all(len(tiktoken_encoding("cl100k_base").encode(a)) <= 8 for a in records["answer"])
    cached = sum(p.stat().st_size for p in (tmp_path / "cache" / "openai_requests").rglob("*.json"))
    assert cached < 100_000


def test_a_plausible_reply_is_never_cut(tmp_path):
    from tests.loopback_openai import LoopbackServer

    with LoopbackServer(lambda body: "Hallowmere Abbey, founded in the north", completion_tokens=7) as server:
        run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", *_openai_generator(server.url), "generator.max_tokens=8")
    records = pd.read_parquet(run_dir / "records.parquet")
    assert not records["answer_truncated"].any() and (records["answer"] == "Hallowmere Abbey, founded in the north").all()


def test_a_429_with_retry_after_is_honoured(tmp_path, monkeypatch):
    """Two 429 replies asking for 3 s: the client waits 3 s each time (not its 0.01 s backoff), within its timeout."""
    import time as time_module

    from ragsweep.llm import openai_server
    from tests.loopback_openai import LoopbackServer

    waits: list[float] = []
    monkeypatch.setattr(openai_server.time, "sleep", lambda s: waits.append(s))
    with LoopbackServer(_answer, failures=2, status=429, headers={"Retry-After": "3"}) as server:
        run(tmp_path, "task=multihop_mini", "retriever=bm25", *_openai_generator(server.url, concurrency=1), "generator.max_retries=2")
    assert waits == [3.0, 3.0] and time_module.sleep is not None
    assert openai_server.retry_after_s({"retry-after": "120"}) == 120.0 and openai_server.retry_after_s({}) is None
    assert 0 < openai_server.retry_after_s({"retry-after": time_module.strftime("%a, %d %b %Y %H:%M:%S GMT", time_module.gmtime(time_module.time() + 30))}) <= 30
