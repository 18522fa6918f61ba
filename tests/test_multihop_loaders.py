"""Multi-hop loaders on small files written in each published layout."""

from __future__ import annotations

import json

import pytest

from ragsweep.errors import DataError, OfflineError
from ragsweep.tasks.hotpotqa import HotpotQATask, normalize
from ragsweep.tasks.multihop_rag import MultiHopRAGTask
from ragsweep.tasks.musique import MuSiQueTask, paragraph_id

HUB_ROW = {  # hotpotqa/hotpot_qa rows are columnar
    "id": "5a8b57f25542995d1e6f1371",
    "question": "Were Scott Derrickson and Ed Wood of the same nationality?",
    "answer": "yes",
    "type": "comparison",
    "level": "hard",
    "supporting_facts": {"title": ["Scott Derrickson", "Ed Wood"], "sent_id": [0, 0]},
    "context": {
        "title": ["Ed Wood", "Scott Derrickson"],
        "sentences": [["Edward Davis Wood Jr. was an American filmmaker.", " He was born in 1924."], ["Scott Derrickson is an American director."]],
    },
}


def test_hub_columnar_row_normalizes_like_the_original_layout():
    rec = normalize(HUB_ROW, "hub", 0)
    assert rec.qid == "5a8b57f25542995d1e6f1371" and rec.answers == ("yes",)
    assert rec.supporting == [("Scott Derrickson", 0), ("Ed Wood", 0)]
    assert rec.context[0] == ("Ed Wood", ["Edward Davis Wood Jr. was an American filmmaker.", " He was born in 1924."])
    assert rec.metadata == {"type": "comparison", "level": "hard"}


def test_flashrag_2wiki_jsonl_with_aliases(tmp_path):
    row = {
        "id": "2wiki-1",
        "question": "Who was born first, Ann Lee or Bo Chen?",
        "golden_answers": ["Ann Lee", "Ann"],
        "metadata": {
            "type": "comparison",
            "supporting_facts": {"title": ["Ann Lee", "Bo Chen"], "sent_id": [1, 0]},
            "context": {"title": ["Ann Lee", "Bo Chen"], "content": [["Ann Lee is a poet.", " She was born in 1901."], ["Bo Chen was born in 1950."]]},
            "evidences": [["Ann Lee", "date of birth", "1901"]],
        },
    }
    (tmp_path / "dev.jsonl").write_text(json.dumps(row) + "\n\n")
    docs, [q] = HotpotQATask(str(tmp_path), questions="dev.jsonl", corpus=None).load()
    text = {d.doc_id: d.text for d in docs}
    assert q.answers == ("Ann Lee", "Ann") and q.gold_doc_ids == ("Ann Lee", "Bo Chen")
    assert [text[s.doc_id][s.start : s.end] for s in q.gold_spans] == ["She was born in 1901.", "Bo Chen was born in 1950."]
    assert q.metadata["type"] == "comparison" and q.metadata["evidences"] == [["Ann Lee", "date of birth", "1901"]]


def test_jsonl_syntax_error_names_the_line(tmp_path):
    (tmp_path / "dev.jsonl").write_text(json.dumps(HUB_ROW) + "\n{broken\n")
    with pytest.raises(DataError, match=r"dev.jsonl, record line 2: invalid JSON"):
        HotpotQATask(str(tmp_path), questions="dev.jsonl", corpus=None).load()


def test_hub_id_offline_says_how_to_use_local_files():
    with pytest.raises(OfflineError, match=r"hotpotqa/hotpot_qa \(config distractor\), split validation .* task.path="):
        HotpotQATask(hub_id="hotpotqa/hotpot_qa", hub_config="distractor").load()


def test_musique_paragraphs_aliases_and_hops(tmp_path):
    rec = {
        "id": "3hop1__123_456_789",
        "question": "Who founded the company that built the ship?",
        "answer": "Edwin Marlow",
        "answer_aliases": ["E. Marlow"],
        "answerable": True,
        "paragraphs": [
            {"idx": 0, "title": "Wren", "paragraph_text": "Wren was built by Marlow & Co.", "is_supporting": True},
            {"idx": 1, "title": "Marlow & Co.", "paragraph_text": "Marlow & Co. was founded by Edwin Marlow.", "is_supporting": True},
            {"idx": 2, "title": "Wren", "paragraph_text": "Wren is also a bird.", "is_supporting": False},
        ],
    }
    (tmp_path / "dev.jsonl").write_text(json.dumps(rec) + "\n")
    docs, [q] = MuSiQueTask(str(tmp_path), questions="dev.jsonl").load()
    assert len(docs) == 3  # two paragraphs share the title "Wren"
    assert q.answers == ("Edwin Marlow", "E. Marlow") and q.metadata["hops"] == 3
    assert q.gold_doc_ids == (paragraph_id("Wren", "Wren was built by Marlow & Co."), paragraph_id("Marlow & Co.", "Marlow & Co. was founded by Edwin Marlow."))
    assert all(s.start == 0 for s in q.gold_spans)


ARTICLES = [
    {"title": "A", "url": "u/a", "body": "Alpha opened a plant in Calder Bay.  It hired   300 workers. Later news."},
    {"title": "B", "url": "u/b", "body": "Beta said profits rose."},
]


def _published(tmp_path, evidence):
    queries = [{"query": "What did Alpha and Beta report?", "answer": "growth", "question_type": "inference_query", "evidence_list": evidence},
               {"query": "Unanswerable?", "answer": "Insufficient information.", "question_type": "null_query", "evidence_list": []}]
    (tmp_path / "MultiHopRAG.json").write_text(json.dumps(queries))
    (tmp_path / "corpus.json").write_text(json.dumps(ARTICLES))


def test_multihop_rag_locates_facts_in_articles(tmp_path):
    _published(tmp_path, [
        {"title": "A", "url": "u/a", "fact": "it hired 300 workers."},  # case and spacing differ from the body
        {"title": "B", "url": "u/b", "fact": "Beta said profits rose."},
        {"title": "B", "url": "u/b", "fact": "A sentence the article does not contain."},
    ])
    task = MultiHopRAGTask(str(tmp_path))
    docs, queries = task.load()
    text = {d.doc_id: d.text for d in docs}
    q = queries[0]
    assert [text[s.doc_id][s.start : s.end] for s in q.gold_spans] == ["It hired   300 workers.", "Beta said profits rose."]
    assert q.gold_doc_ids == ("u/a", "u/b")
    assert task.describe() == {"corpus": "article corpus, 2 articles", "unlocated_evidence_facts": 1}
    assert queries[1].gold_doc_ids == () and queries[1].answers == ("Insufficient information.",)


def test_multihop_rag_without_corpus_builds_it_from_evidence_and_says_so(tmp_path):
    _published(tmp_path, [{"title": "A", "url": "u/a", "fact": "Alpha opened a plant."}, {"title": "B", "url": "u/b", "fact": "Beta grew."}])
    (tmp_path / "corpus.json").unlink()
    task = MultiHopRAGTask(str(tmp_path), corpus=None)
    docs, [q, _] = task.load()
    assert {d.doc_id: d.text for d in docs} == {"u/a": "Alpha opened a plant.", "u/b": "Beta grew."}
    assert task.describe()["corpus"].startswith("built from the evidence facts (2 articles, 2 distinct facts)")


def test_multihop_rag_sample_layout(tmp_path):
    (tmp_path / "queries.json").write_text(json.dumps({"queries": [{"id": 7, "question": "Q?", "question_type": "comparison_query"}]}))
    (tmp_path / "ground_truth.json").write_text(json.dumps({"7": {"answer": "yes", "evidence_list": [{"title": "B", "url": "u/b", "fact": "Beta grew."}]}}))
    docs, [q] = MultiHopRAGTask(str(tmp_path), queries="queries.json", ground_truth="ground_truth.json", corpus=None).load()
    assert q.query_id == "7" and q.metadata == {"question_type": "comparison_query"} and len(docs) == 1
    (tmp_path / "ground_truth.json").write_text(json.dumps({}))
    with pytest.raises(DataError, match=r"ground_truth.json, record 1, field 'id': no ground truth for query id 7"):
        MultiHopRAGTask(str(tmp_path), queries="queries.json", ground_truth="ground_truth.json", corpus=None).load()
