"""Loaders on the bundled suites, and bad input stopping with the file, record and field named."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from ragsweep.errors import ConfigError, DataError
from ragsweep.registry import CHUNKERS, TASKS
from ragsweep.tasks.base import Task
from ragsweep.tasks.chroma import ChromaTask
from ragsweep.tasks.hotpotqa import HotpotQATask
from ragsweep.tasks.nitibench import NitiBenchTask
from ragsweep.types import Document, Query


def test_bundled_multihop_suite():
    docs, queries = HotpotQATask("bundled:multihop_mini").load()
    assert (len(docs), len(queries)) == (22, 16)
    text = {d.doc_id: d.text for d in docs}
    q = queries[0]
    assert q.answers == ("Hallowmere",) and q.gold_doc_ids == ("Tidewater Institute", "Orla Venn")
    assert [text[s.doc_id][s.start : s.end] for s in q.gold_spans] == [
        "It was founded in 1994 by the biologist Orla Venn.",
        "Orla Venn is a Kestran marine biologist born in 1961 in the port town of Hallowmere.",
    ]
    assert {q.metadata["type"] for q in queries} == {"bridge", "comparison"}


def test_bundled_multihop_coast_suite_every_supporting_sentence_is_gold_text():
    docs, queries = HotpotQATask("bundled:multihop_coast").load()
    assert (len(docs), len(queries)) == (24, 32)
    text = {d.doc_id: d.text for d in docs}
    q = queries[0]
    assert q.answers == ("Lisk",) and q.gold_doc_ids == ("Pell Arden", "Saltmarch")
    assert [text[s.doc_id][s.start : s.end] for s in q.gold_spans] == [
        "He was born in Saltmarch, the son of a cooper who repaired barrels for the salt works.",
        "Saltmarch is a small coastal town at the mouth of the river Lisk on the Amber Coast.",
    ]
    assert all(s.end > s.start for q in queries for s in q.gold_spans) and len({q.query_id for q in queries}) == 32
    assert [sum(q.metadata["type"] == t for q in queries) for t in ("bridge", "comparison")] == [26, 6]


def test_a_suite_config_names_its_headline_metric_and_a_misspelled_one_stops_in_one_line(tmp_path):
    from tests.helpers import run

    run_dir, _ = run(tmp_path / "a", "task=multihop_coast", "task.limit=2", "generator=none")
    assert json.loads((run_dir / "metrics.json").read_text())["headline"] == "span_recall@5"  # the suite's YAML
    run_dir, _ = run(tmp_path / "b", "task=multihop_mini", "task.limit=2", "generator=none", "+task.headline_metric=doc_mrr@10")
    assert json.loads((run_dir / "metrics.json").read_text())["headline"] == "doc_mrr@10"  # any suite, on the command line
    with pytest.raises(ConfigError, match=r"^task.headline_metric='doc_mrr@11' is not a metric this run can compute: did you mean 'doc_mrr@1'"):
        run(tmp_path / "c", "task=multihop_mini", "task.limit=2", "generator=none", "+task.headline_metric=doc_mrr@11")


def test_bundled_thai_legal_suite_maps_sections_to_spans():
    docs, queries = NitiBenchTask("bundled:thai_legal_mini", questions="questions.csv").load()
    assert (len(docs), len(queries)) == (2, 12)
    doc = {d.doc_id: d for d in docs}
    q = queries[2]
    assert len(q.metadata["gold_sections"]) == 3
    for span, section in zip(q.gold_spans, q.metadata["gold_sections"]):
        assert doc[span.doc_id].text[span.start : span.end].startswith(f"{span.doc_id} มาตรา {section.rsplit('-', 1)[1]} ")
    sections = doc[q.gold_spans[0].doc_id].metadata["sections"]
    assert [s[0] for s in sections] == [str(i) for i in range(1, 11)]


def test_bundled_span_suite():
    docs, queries = ChromaTask("bundled:span_mini").load()
    assert (len(docs), len(queries)) == (2, 14)
    assert sum(len(q.gold_spans) for q in queries) == 20


@pytest.fixture()
def span_copy(tmp_path):
    from ragsweep.tasks.base import BUNDLED_DATA

    dst = tmp_path / "suite"
    shutil.copytree(BUNDLED_DATA / "span_mini", dst)
    return dst


def _rewrite_csv(path, mutate):
    rows = list(csv.DictReader(open(path, encoding="utf-8", newline="")))
    mutate(rows)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["question", "references", "corpus_id"])
        w.writeheader()
        w.writerows(rows)


def test_chroma_reference_mismatch_names_row_and_field(span_copy):
    def mutate(rows):
        refs = json.loads(rows[2]["references"])
        refs[0]["start_index"] += 1
        rows[2]["references"] = json.dumps(refs)

    _rewrite_csv(span_copy / "questions_df.csv", mutate)
    with pytest.raises(DataError) as err:
        ChromaTask(str(span_copy)).load()
    assert "questions_df.csv, record row 3, field 'references[0]': pump_manual[" in str(err.value)


def test_chroma_span_outside_document(span_copy):
    def mutate(rows):
        rows[0]["references"] = json.dumps([{"content": "x", "start_index": 10**6, "end_index": 10**6 + 1}])

    _rewrite_csv(span_copy / "questions_df.csv", mutate)
    with pytest.raises(DataError, match=r"record row 1, field 'references\[0\]': span .* outside pump_manual"):
        ChromaTask(str(span_copy)).load()


def test_chroma_malformed_json_and_missing_corpus(span_copy):
    _rewrite_csv(span_copy / "questions_df.csv", lambda rows: rows[4].update(references="[{not json"))
    with pytest.raises(DataError, match=r"record row 5, field 'references': invalid JSON"):
        ChromaTask(str(span_copy)).load()
    (span_copy / "corpora" / "pump_manual.md").unlink()
    with pytest.raises(DataError, match=r"record row 1, field 'corpus_id': corpus file .*pump_manual.md not found"):
        ChromaTask(str(span_copy)).load()


def test_chroma_corpus_id_remap(span_copy):
    (span_copy / "corpora" / "pump_manual.md").rename(span_copy / "manual.txt")
    docs, queries = ChromaTask(str(span_copy), corpus_paths={"pump_manual": "manual.txt"}).load()
    assert {d.doc_id for d in docs} == {"pump_manual", "council_minutes"} and len(queries) == 14


def test_missing_data_file(tmp_path):
    with pytest.raises(DataError, match="questions_df.csv: file not found"):
        ChromaTask(str(tmp_path)).load()


def test_hotpotqa_bad_supporting_fact(tmp_path):
    from ragsweep.tasks.base import BUNDLED_DATA

    shutil.copytree(BUNDLED_DATA / "multihop_mini", tmp_path / "s")
    path = tmp_path / "s" / "questions.json"
    records = json.loads(path.read_text())
    records[3]["supporting_facts"][1] = ["Edwin Marlow", 9]
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match=r"record 4 \(_id mh04\), field 'supporting_facts\[1\]': sentence 9 out of range"):
        HotpotQATask(str(tmp_path / "s")).load()


def test_nitibench_unknown_section(tmp_path):
    from ragsweep.tasks.base import BUNDLED_DATA

    shutil.copytree(BUNDLED_DATA / "thai_legal_mini", tmp_path / "s")
    path = tmp_path / "s" / "questions.csv"
    text = path.read_text("utf-8").replace("'sections': '8'}", "'sections': '99'}")
    path.write_text(text, "utf-8")
    with pytest.raises(DataError, match=r"record row 5, field 'relevant_laws\[1\]': section .*-99 is not in the statute corpus"):
        NitiBenchTask(str(tmp_path / "s"), questions="questions.csv").load()


def test_unknown_component_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown chunker 'nope'; known: cluster, fixed_tokens, margin, perplexity, recursive, sections, semantic, sentences"):
        CHUNKERS.build({"name": "nope"})
    with pytest.raises(ConfigError, match="unknown task"):
        TASKS.get("nope")


def test_nitibench_duplicate_section_is_an_error(tmp_path):
    from ragsweep.tasks.base import BUNDLED_DATA

    shutil.copytree(BUNDLED_DATA / "thai_legal_mini", tmp_path / "s")
    path = tmp_path / "s" / "laws" / "digital_signboard_tax_act.json"
    sections = json.loads(path.read_text("utf-8"))
    sections[3]["section_num"] = "3"
    path.write_text(json.dumps(sections, ensure_ascii=False), "utf-8")
    with pytest.raises(DataError, match=r"digital_signboard_tax_act.json, record 4, field 'section_num': section .*-3 appears twice"):
        NitiBenchTask(str(tmp_path / "s"), questions="questions.csv").load()


def test_every_task_config_declares_every_parameter_of_its_loader():
    """So a documented override (task.on_invalid_reference=clip, task.limit=3) never needs '+'."""
    import inspect

    import yaml

    from ragsweep.paths import CONFIG_DIR
    from ragsweep.registry import TASKS

    for path in sorted((CONFIG_DIR / "task").glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text())
        params = [p for p in inspect.signature(TASKS.get(cfg["name"]).__init__).parameters if p != "self"]
        assert [p for p in params if p not in cfg] == [], path.name


def test_a_task_key_overrides_a_presets_suite_without_restating_it():
    from hydra import compose, initialize_config_dir

    from ragsweep.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+sweep=reproduce_jadon", "task.on_invalid_reference=clip", "task.corpus_paths={a: b.md}"])
    assert (cfg.task.name, cfg.task.on_invalid_reference, dict(cfg.task.corpus_paths)) == ("chroma", "clip", {"a": "b.md"})


@pytest.mark.parametrize("task", ["multihop_mini", "multihop_coast", "span_mini", "thai_legal_mini"])
def test_every_suite_takes_a_limit_and_keeps_its_documents(tmp_path, task):
    from tests.helpers import run

    full_dir, _ = run(tmp_path / "full", f"task={task}", "generator=none")
    run_dir, info = run(tmp_path / "cut", f"task={task}", "task.limit=3", "generator=none")
    full = json.loads((full_dir / "metrics.json").read_text())["summary"]
    cut = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert cut["n_queries"] == 3 < full["n_queries"]
    assert cut["n_documents"] == full["n_documents"]
    assert info["task"]["limit"] == 3 and info["task"]["questions_in_file"] == full["n_queries"]


class ListedTask(Task):
    """A task format as docs/extending.md writes one: no ``limit`` parameter of its own."""

    def __init__(self, n: int = 5):
        self.n = n

    def data_files(self):
        return []

    def load(self):
        return [Document("d", "text")], [Query(f"q{i}", f"question {i}?", gold_doc_ids=("d",)) for i in range(self.n)]


def test_task_limit_is_applied_in_the_base_for_a_loader_without_one():
    """task.limit for every loader: a task format of the user's own (no limit parameter) keeps the first questions,
    noted for run.json; a loader that cuts its file itself (its corpus depends on the questions) gets the limit."""
    from ragsweep.errors import ConfigError
    from ragsweep.tasks.base import build_task

    task = build_task({"_target_": "tests.test_tasks.ListedTask", "n": 5, "limit": 2})
    _, queries = task.checked_load()
    assert [q.query_id for q in queries] == ["q0", "q1"] and task.limit_note == {"limit": 2, "questions_in_file": 5}
    everything = build_task({"_target_": "tests.test_tasks.ListedTask", "n": 5, "limit": None})
    assert len(everything.checked_load()[1]) == 5 and everything.limit_note == {}
    for bad in ("3", -1, True, 2.5):
        with pytest.raises(ConfigError, match="task.limit must be a whole number"):
            build_task({"_target_": "tests.test_tasks.ListedTask", "limit": bad})
    own = build_task({"name": "hotpotqa", "path": "bundled:multihop_mini", "limit": 3})
    assert own.base_limit is None and own.limit == 3  # HotpotQA-style loaders cut their own file
