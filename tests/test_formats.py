"""Each data format a user brings, written in its published layout, loaded and run; and its broken variants."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import run
from ragsweep.errors import DataError
from ragsweep.metrics.retrieval import ndcg_at_k
from ragsweep.registry import TASKS
from ragsweep.tasks.base import resolve_path
from ragsweep.tasks.hotpotqa import join_sentences


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def load(**task) -> tuple[list, list]:
    return TASKS.build(task).checked_load()


# ---- FlashRAG: dev.jsonl {id, question, golden_answers, metadata} + corpus.jsonl {id, contents} -------------

def flashrag_suite(root: Path) -> Path:
    write_jsonl(root / "dev.jsonl", [
        {"id": "test_0", "question": "Which river flows through the lighthouse town?", "golden_answers": ["the Tamar", "Tamar"], "metadata": {}},
        {"id": "test_1", "question": "Who built the harbour wall?", "golden_answers": ["John Smeaton"], "metadata": {"type": "who"}},
    ])
    write_jsonl(root / "corpus.jsonl", [
        {"id": "0", "contents": '"Lighthouse town"\nThe Tamar flows through the lighthouse town.'},
        {"id": "1", "contents": '"Harbour wall"\nThe harbour wall was built by John Smeaton in 1759.'},
        {"id": "2", "contents": "A passage without a title line."},
    ])
    return root


def test_flashrag_layout_loads_with_titles_and_answer_aliases(tmp_path):
    docs, queries = load(name="generic", path=str(flashrag_suite(tmp_path)), questions="dev.jsonl", corpus="corpus.jsonl")
    assert [(d.doc_id, d.metadata) for d in docs] == [("0", {"title": "Lighthouse town"}), ("1", {"title": "Harbour wall"}), ("2", {})]
    assert docs[0].text == '"Lighthouse town"\nThe Tamar flows through the lighthouse town.'  # retrieved as FlashRAG retrieves it
    assert [(q.query_id, q.answers, q.gold_doc_ids) for q in queries] == [("test_0", ("the Tamar", "Tamar"), ()), ("test_1", ("John Smeaton",), ())]


def test_flashrag_run_scores_answers_and_counts_queries_without_gold_documents(tmp_path):
    suite = flashrag_suite(tmp_path / "suite")
    run_dir, info = run(tmp_path, "task=flashrag", f"task.path={suite}", "retriever=bm25")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["headline"] == "answer_em" and metrics["metrics"]["answer_em"]["n"] == 2
    assert "doc_recall@5" not in metrics["metrics"]  # no gold documents: not a 0, not scored
    assert metrics["summary"]["n_queries"] == 2


def test_flashrag_questions_without_a_corpus_stop_with_one_line(tmp_path):
    suite = flashrag_suite(tmp_path)
    (suite / "corpus.jsonl").unlink()
    with pytest.raises(DataError, match=r"corpus.jsonl: file not found"):
        TASKS.build({"name": "generic", "path": str(suite), "questions": "dev.jsonl"}).data_files()
    (suite / "corpus.jsonl").write_text("")
    with pytest.raises(DataError, match="the suite has no documents"):
        load(name="generic", path=str(suite), questions="dev.jsonl")


# ---- generic: questions.jsonl + a corpus folder ------------------------------------------------------------

def generic_suite(root: Path, questions: list[dict]) -> Path:
    (root / "docs" / "sub").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("Alpha text about lighthouses.\n", "utf-8")
    (root / "docs" / "sub" / "b.md").write_text("# Beta\nHarbour walls and tides.\n", "utf-8")
    (root / "docs" / "ignored.csv").write_text("x,y\n", "utf-8")
    write_jsonl(root / "questions.jsonl", questions)
    return root


def test_generic_folder_corpus_with_spans_and_doc_ids(tmp_path):
    suite = generic_suite(tmp_path, [
        {"id": 1, "question": "What about lighthouses?", "answers": "Alpha", "gold_spans": [{"doc_id": "a.txt", "start": 0, "end": 10}]},
        {"id": "q2", "question": "Harbour walls?", "gold_doc_ids": ["sub/b.md"]},
        {"id": "q3", "question": "Nothing known?"},
    ])
    docs, queries = load(name="generic", path=str(suite), corpus="docs")
    assert [d.doc_id for d in docs] == ["a.txt", "sub/b.md"]
    assert [(q.query_id, q.answers, q.gold_doc_ids, [(s.doc_id, s.start, s.end) for s in q.gold_spans]) for q in queries] == [
        ("1", ("Alpha",), ("a.txt",), [("a.txt", 0, 10)]), ("q2", (), ("sub/b.md",), []), ("q3", (), (), []),
    ]


@pytest.mark.parametrize(("row", "message"), [
    ({"id": "x", "question": 5}, r"line 1 \(id x\), field 'question': expected a string, got int"),
    ({"question": "q?"}, r"line 1, field 'id': missing, blank or not a string id"),
    ({"id": "x", "question": "q?", "answers": [["nested"]]}, r"field 'answers': expected a string or a list of strings"),
    ({"id": "x", "question": "q?", "gold_spans": [{"doc_id": "a.txt", "start": 5, "end": 2}]}, r"field 'gold_spans\[0\]': expected \{doc_id"),
    ({"id": "x", "question": "q?", "gold_spans": [[0, 3]]}, r"field 'gold_spans\[0\]': expected"),
    ({"id": "x", "question": "q?", "gold_doc_ids": ["../etc/passwd"]}, r"record 1 \(id x\), field 'gold_doc_ids\[0\]': gold document '../etc/passwd' is not in the corpus"),
    ({"id": "x", "question": "q?", "metadata": "<b>html</b>"}, r"field 'metadata': expected an object, got str"),
])
def test_generic_bad_records_name_file_record_and_field(tmp_path, row, message):
    suite = generic_suite(tmp_path, [row])
    with pytest.raises(DataError, match=message):
        load(name="generic", path=str(suite), corpus="docs")


def test_generic_duplicate_ids_and_truncated_lines(tmp_path):
    suite = generic_suite(tmp_path, [{"id": "x", "question": "a?"}, {"id": "x", "question": "b?"}])
    with pytest.raises(DataError, match=r"id x\), field 'id': question id appears twice"):
        load(name="generic", path=str(suite), corpus="docs")
    (suite / "questions.jsonl").write_text('{"id": "x", "question": "a?"}\n{"id": "y", "quest', "utf-8")
    with pytest.raises(DataError, match=r"questions.jsonl, record line 2: invalid JSON"):
        load(name="generic", path=str(suite), corpus="docs")
    write_jsonl(suite / "questions.jsonl", [{"id": "x", "question": "a?"}])
    with pytest.raises(DataError, match="no corpus files ending .rst"):
        load(name="generic", path=str(suite), corpus="docs", suffixes=[".rst"])


# ---- BEIR: corpus.jsonl, queries.jsonl, qrels/test.tsv with graded scores ----------------------------------

def beir_suite(root: Path, qrels: str) -> Path:
    write_jsonl(root / "corpus.jsonl", [
        {"_id": "d1", "title": "Tides", "text": "tides rise and fall twice a day"},
        {"_id": "d2", "title": "Moon", "text": "the moon pulls the tides; tides tides tides"},
        {"_id": "d3", "title": "Bread", "text": "bread needs flour water salt and yeast"},
    ])
    write_jsonl(root / "queries.jsonl", [{"_id": "q1", "text": "why do tides rise"}, {"_id": "q2", "text": "bread recipe"}, {"_id": "q9", "text": "not judged"}])
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(qrels, "utf-8")
    return root


def test_graded_ndcg_matches_the_trec_eval_formula():
    # gains 1 (rank 1) and 2 (rank 2) vs the ideal 2, 1
    assert ndcg_at_k(["d2", "d1", "d3"], ["d1", "d2"], 10, {"d1": 2, "d2": 1}) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["d2", "d1"], ["d1", "d2"], 1, {"d1": 2, "d2": 1}) == pytest.approx(1 / 2)
    assert ndcg_at_k(["d2", "d1"], ["d1", "d2"], 10) == pytest.approx(1.0)  # binary without grades


def test_beir_layout_runs_with_graded_ndcg(tmp_path):
    suite = beir_suite(tmp_path / "beir", "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\nq1\td3\t0\nq2\td3\t1\n")
    docs, queries = load(name="beir", path=str(suite))
    assert [(q.query_id, q.gold_doc_ids, q.gold_doc_grades) for q in queries] == [("q1", ("d1", "d2"), (("d1", 2), ("d2", 1))), ("q2", ("d3",), ())]  # binary: no grades kept
    run_dir, info = run(tmp_path, "task=beir", f"task.path={suite}", "retriever=bm25", "generator=none")
    assert info["task"] == {"split": "test", "queries_not_in_split": 1, "queries_without_relevant_documents": 0}
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    ranked = [c["doc_id"] for c in records.loc["q1", "ranked_chunks"]]
    first = list(dict.fromkeys(ranked))
    gains = {"d1": 2, "d2": 1, "d3": 0}
    dcg = sum(gains[d] / math.log2(r + 1) for r, d in enumerate(first[:10], start=1))
    assert records.loc["q1", "doc_ndcg@10"] == pytest.approx(dcg / (2 + 1 / math.log2(3)))
    assert json.loads((run_dir / "metrics.json").read_text())["headline"] == "doc_ndcg@10"


@pytest.mark.parametrize(("qrels", "message"), [
    ("q1\td1\t1\n", r"line 1: expected the header query-id corpus-id score"),
    ("query-id\tcorpus-id\tscore\nq1\td1\n", r"line 2: expected 3 tab-separated fields, got 2"),
    ("query-id\tcorpus-id\tscore\nq1\td1\thigh\n", r"line 2, field 'score': score 'high' is not an integer"),
    ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t2\n", r"line 3: query 'q1' judges document 'd1' twice"),
    ("query-id\tcorpus-id\tscore\nq7\td1\t1\n", r"test.tsv, record line 2, field 'query-id': 1 judged queries are not in queries.jsonl \(first: query-id q7\)"),
    ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td404\t1\n", r"test.tsv, record line 3, field 'corpus-id': document 'd404' \(judged for query 'q1'\) is not in corpus.jsonl$"),
])
def test_beir_broken_qrels(tmp_path, qrels, message):
    with pytest.raises(DataError, match=message):
        load(name="beir", path=str(beir_suite(tmp_path, qrels)))


# ---- [{"title", "text"}] passage corpora for the multi-hop loaders, and the 2Wiki sentence join ---------------

def test_2wiki_sentences_are_joined_with_a_space_and_hotpotqa_sentences_as_published():
    text, bounds = join_sentences(["Ermengarde was a queen.", "She married Lothair II.", "She died."])
    assert text == "Ermengarde was a queen. She married Lothair II. She died."
    assert [text[s:e] for s, e in bounds] == ["Ermengarde was a queen.", "She married Lothair II.", "She died."]
    text, bounds = join_sentences(["Radio City is an Indian radio station.", " It plays Hindi songs."])
    assert text == "Radio City is an Indian radio station. It plays Hindi songs."
    assert [text[s:e] for s, e in bounds] == ["Radio City is an Indian radio station.", "It plays Hindi songs."]


def twowiki_question(qid: str, facts: list) -> dict:
    return {
        "_id": qid, "type": "compositional", "question": "Who was the husband of Ermengarde?", "answer": "Lothair II",
        "supporting_facts": facts,
        "context": [["Ermengarde", ["Ermengarde was a queen.", "She married Lothair II."]], ["Lothair II", ["Lothair II was a king."]]],
        "evidences": [["Ermengarde", "spouse", "Lothair II"]],
    }


def test_hotpotqa_loader_reads_a_title_text_passage_corpus(tmp_path):
    (tmp_path / "dev.json").write_text(json.dumps([twowiki_question("a1", [["Ermengarde", 1], ["Lothair II", 0]]), twowiki_question("a2", [["Ermengarde", 5]])]))
    (tmp_path / "corpus.json").write_text(json.dumps([
        {"title": "Ermengarde", "text": "Ermengarde was a queen. She married Lothair II."},
        {"title": "Lothair II", "text": "Lothair II was a king. He ruled Lotharingia."},
        {"title": "Unrelated", "text": "Bread needs flour."},
    ]))
    task = TASKS.build({"name": "hotpotqa", "path": str(tmp_path), "questions": "dev.json", "corpus": "corpus.json"})
    docs, queries = task.checked_load()
    texts = {d.doc_id: d.text for d in docs}
    assert len(docs) == 3
    a1 = queries[0]
    assert [texts[s.doc_id][s.start:s.end] for s in a1.gold_spans] == ["She married Lothair II.", "Lothair II was a king."]
    assert a1.gold_doc_ids == ("Ermengarde", "Lothair II")
    # the second question's fact index is outside its context: the whole passage is gold, and counted
    assert [(s.start, s.end) for s in queries[1].gold_spans] == [(0, len(texts["Ermengarde"]))]
    assert task.describe() == {"supporting_sentences_not_found_whole_passage_gold": 1}


def test_hotpotqa_passage_corpus_broken(tmp_path):
    (tmp_path / "dev.json").write_text(json.dumps([twowiki_question("a1", [["Ermengarde", 1]])]))
    (tmp_path / "corpus.json").write_text(json.dumps([{"title": "Ermengarde", "text": "x"}, {"title": "Ermengarde", "text": "y"}, {"title": 3}]))
    with pytest.raises(DataError, match=r"corpus.json: 2 bad records.*2, field 'title': title 'Ermengarde' appears twice.*3: expected"):
        load(name="hotpotqa", path=str(tmp_path), questions="dev.json", corpus="corpus.json")


def musique_row(qid: str, supporting_text: str) -> dict:
    return {
        "id": qid, "question": "Who founded the town?", "answer": "Ada", "answer_aliases": ["Ada L."], "answerable": True,
        "paragraphs": [
            {"idx": 0, "title": "Town", "paragraph_text": supporting_text, "is_supporting": True},
            {"idx": 1, "title": "Other", "paragraph_text": "Unrelated text.", "is_supporting": False},
        ],
    }


def test_musique_reads_a_passage_corpus(tmp_path):
    write_jsonl(tmp_path / "dev.jsonl", [musique_row("2hop__1", "Ada founded the town.")])
    (tmp_path / "corpus.json").write_text(json.dumps([
        {"title": "Town", "text": "Ada founded the town."}, {"title": "Town", "text": "The town has a port."},
        {"title": "Town", "text": "Ada founded the town."},  # repeated passage: one document
    ]))
    docs, queries = load(name="musique", path=str(tmp_path), questions="dev.jsonl", corpus="corpus.json")
    assert [d.text for d in docs] == ["Ada founded the town.", "The town has a port."]
    assert queries[0].gold_doc_ids == (docs[0].doc_id,) and queries[0].answers == ("Ada", "Ada L.")
    write_jsonl(tmp_path / "dev.jsonl", [musique_row("2hop__1", "A paragraph the corpus lacks.")])
    with pytest.raises(DataError, match=r"id 2hop__1\), field 'gold_doc_ids\[0\]': gold document 'Town \[.*\]' is not in the corpus"):
        load(name="musique", path=str(tmp_path), questions="dev.jsonl", corpus="corpus.json")


# ---- CoFE-RAG's data set file -----------------------------------------------------------------------------

COFE_EXAMPLES = {"examples": [
    {"query_type": "factual", "query": "What does the lighthouse guide?", "reference_answer": "Ships.", "file_name": "light.pdf",
     "coarse_keywords": ["lighthouse"], "fine_keywords": [["guides", "ships"], ["harbour"]]},
    {"query_type": "analytical", "query": "How much flour?", "reference_answer": "500 g.", "file_name": "bread.docx",
     "coarse_keywords": ["flour"], "fine_keywords": ["500 g"]},
]}


def cofe_suite(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "light.txt").write_text("The lighthouse guides ships into the harbour.", "utf-8")
    (root / "docs" / "bread.md").write_text("Bread takes 500 g of flour.", "utf-8")
    (root / "rag_dataset_en.json").write_text(json.dumps(COFE_EXAMPLES), "utf-8")
    return root


def test_cofe_rag_dataset_runs_with_its_keywords(tmp_path):
    suite = cofe_suite(tmp_path / "cofe")
    docs, queries = load(name="cofe_rag", path=str(suite))
    assert [(q.query_id, q.gold_doc_ids, q.keywords_coarse, q.keywords_fine) for q in queries] == [
        ("cofe-0000", ("light.txt",), ("lighthouse",), (("guides", "ships"), ("harbour",))),
        ("cofe-0001", ("bread.md",), ("flour",), (("500 g",),)),
    ]
    run_dir, _ = run(tmp_path, "task=cofe_rag", f"task.path={suite}", "retriever=bm25", "generator=none")
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    assert records.loc["cofe-0000", "keyword_recall@4"] == 1.0  # both groups' words are in the lighthouse document


def test_cofe_rag_file_as_the_keywords_of_another_suite_matches_by_question_text(tmp_path):
    suite = generic_suite(tmp_path / "g", [{"id": "x", "question": "How much flour?", "gold_doc_ids": ["a.txt"]}])
    (tmp_path / "kw.json").write_text(json.dumps(COFE_EXAMPLES))
    from ragsweep.tasks.keyword_file import apply_keywords

    _, queries = load(name="generic", path=str(suite), corpus="docs")
    with pytest.raises(DataError, match=r"kw.json, record What does the lighthouse guide\?: 1 annotated questions \(matched by text\) are not in the suite"):
        apply_keywords(queries, tmp_path / "kw.json")
    (tmp_path / "kw.json").write_text(json.dumps({"examples": COFE_EXAMPLES["examples"][1:]}))
    [q] = apply_keywords(queries, tmp_path / "kw.json")
    assert (q.keywords_coarse, q.keywords_fine, q.metadata) == (("flour",), (("500 g",),), {"keywords_flat": True})


def test_cofe_rag_missing_document_is_kept_and_named_and_repeated_texts_are_two_queries(tmp_path, caplog):
    suite = cofe_suite(tmp_path)
    (suite / "docs" / "light.txt").unlink()
    task = TASKS.build({"name": "cofe_rag", "path": str(suite)})
    with caplog.at_level("WARNING"):
        _, queries = task.checked_load()
    assert [(q.query_id, q.gold_doc_ids, q.metadata.get("missing_document")) for q in queries] == [
        ("cofe-0000", (), "light.pdf"), ("cofe-0001", ("bread.md",), None)]
    assert task.describe()["missing_documents"] == 1
    assert "1 of 2 queries name a document the corpus folder does not hold (first: light.pdf)" in caplog.text
    # the released file repeats two question texts: each example is its own query, counted
    examples = COFE_EXAMPLES["examples"]
    (suite / "rag_dataset_en.json").write_text(json.dumps({"examples": [examples[1], examples[0], {**examples[1], "file_name": "bread.md"}]}))
    task = TASKS.build({"name": "cofe_rag", "path": str(suite)})
    _, queries = task.checked_load()
    assert [q.query_id for q in queries] == ["cofe-0000", "cofe-0001", "cofe-0002"]
    assert queries[0].question == queries[2].question and task.describe()["repeated_query_texts"] == 1
    # as another suite's keyword file (matched by text): the same keywords twice are one annotation ...
    from ragsweep.tasks.keyword_file import read_keywords

    annotations, by_text = read_keywords(suite / "rag_dataset_en.json")
    assert by_text and annotations["How much flour?"][0] == ("flour",)
    # ... other keywords for the same text would be ambiguous
    (suite / "rag_dataset_en.json").write_text(json.dumps({"examples": [examples[1], {**examples[1], "coarse_keywords": ["salt"]}]}))
    with pytest.raises(DataError, match=r"examples\[1\], field 'query': the same query text as examples\[0\] with other keywords"):
        read_keywords(suite / "rag_dataset_en.json")


def test_cofe_rag_reads_pdf_and_docx_documents(tmp_path, isolated_cache):
    fpdf = pytest.importorskip("fpdf")
    docx = pytest.importorskip("docx")
    root = tmp_path / "cofe"
    (root / "docs").mkdir(parents=True)
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="The lighthouse guides ships into the harbour.")
    pdf.output(str(root / "docs" / "light.pdf"))
    word = docx.Document()
    word.add_paragraph("Bread takes 500 g of flour.")
    word.save(str(root / "docs" / "bread.docx"))
    (root / "rag_dataset_en.json").write_text(json.dumps(COFE_EXAMPLES), "utf-8")
    docs, queries = load(name="cofe_rag", path=str(root))
    assert {d.doc_id: d.text for d in docs} == {"bread.docx": "Bread takes 500 g of flour.", "light.pdf": "The lighthouse guides ships into the harbour."}
    assert [q.gold_doc_ids for q in queries] == [("light.pdf",), ("bread.docx",)]
    extracted = sorted((tmp_path / "cache" / "extracted").rglob("*.txt"))
    assert len(extracted) == 2  # cached by content: a second load parses nothing
    run_dir, _ = run(tmp_path, "task=cofe_rag", f"task.path={root}", "retriever=bm25", "generator=none")
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    assert records.loc["cofe-0000", "keyword_recall@4"] == 1.0 and records.loc["cofe-0001", "doc_recall@1"] == 1.0
    (root / "docs" / "light.pdf").write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(DataError, match=r"light.pdf: cannot be read as .pdf"):
        load(name="cofe_rag", path=str(root))


# ---- Chroma's format with .txt corpora and the user config --------------------------------------------------

def test_chroma_config_for_own_data_finds_txt_corpora(tmp_path):
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "notes.txt").write_text("The harbour wall was built in 1759.", "utf-8")
    start = "The harbour wall was built in 1759.".index("built")
    refs = json.dumps([{"content": "built in 1759", "start_index": start, "end_index": start + 13}])
    pd.DataFrame([{"question": "When was it built?", "references": refs, "corpus_id": "notes"}]).to_csv(tmp_path / "questions_df.csv", index=False)
    run_dir, _ = run(tmp_path / "out", "task=chroma", f"task.path={tmp_path}", "generator=none")
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]["span_recall@5"]["mean"] == 1.0
    (tmp_path / "corpora" / "notes.md").write_text("other", "utf-8")
    with pytest.raises(DataError, match=r"corpus id 'notes' matches 2 files \(notes.md, notes.txt\): set task.suffix"):
        load(name="chroma", path=str(tmp_path), suffix=None)


def test_corpus_paths_override_needs_no_plus(tmp_path):
    suite = resolve_path("bundled:span_mini")
    ids = sorted(p.stem for p in (suite / "corpora").glob("*.md"))
    remap = "{" + ", ".join(f"{i}: corpora/{i}.md" for i in ids) + "}"
    run_dir, info = run(tmp_path, "task=span_mini", f"task.corpus_paths={remap}", "generator=none")
    assert json.loads((run_dir / "metrics.json").read_text())["summary"]["n_queries"] == 14
