"""The cached pipeline end to end through Hydra's compose API, on a bundled suite, in a temp folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ragsweep.hashing import sha256_file
from tests.helpers import run, statuses


def test_rerun_is_all_cache_hits_and_byte_identical(tmp_path):
    run_dir, first = run(tmp_path, "task=span_mini", "retriever=bm25")
    assert statuses(first) == {
        "load": "computed", "chunk": "computed", "index": "computed", "retrieve": "computed", "rerank": "skipped", "generate": "computed", "judge": "skipped", "assess": "skipped"
    }
    records_hash = sha256_file(run_dir / "records.parquet")
    metrics_hash = sha256_file(run_dir / "metrics.json")
    _, second = run(tmp_path, "task=span_mini", "retriever=bm25")
    assert statuses(second) == {
        "load": "hit", "chunk": "hit", "index": "hit", "retrieve": "hit", "rerank": "skipped", "generate": "hit", "judge": "skipped", "assess": "skipped"
    }
    assert sha256_file(run_dir / "records.parquet") == records_hash
    assert sha256_file(run_dir / "metrics.json") == metrics_hash
    assert first["git"].keys() == {"sha", "dirty"} and first["data_hashes"] and first["packages"]["torch"]


def test_changing_the_generator_reuses_retrieval(tmp_path):
    run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive")
    _, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none")
    assert statuses(info) == {
        "load": "hit", "chunk": "hit", "index": "hit", "retrieve": "hit", "rerank": "skipped", "generate": "skipped", "judge": "skipped", "assess": "skipped"
    }


def test_changing_a_chunker_parameter_invalidates_exactly_its_downstream(tmp_path):
    run(tmp_path, "task=multihop_mini", "retriever=bm25")
    _, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "chunker.size=32")
    assert statuses(info) == {
        "load": "hit", "chunk": "computed", "index": "computed", "retrieve": "computed", "rerank": "skipped", "generate": "computed", "judge": "skipped", "assess": "skipped"
    }


@pytest.mark.model
def test_records_carry_gold_rankings_and_metrics(tmp_path):
    run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=dense", "chunker=sentences", "chunker.sentences_per_chunk=1")
    records = pd.read_parquet(run_dir / "records.parquet")
    assert len(records) == 16
    first = records.iloc[0]
    assert list(first["gold_doc_ids"]) == ["Tidewater Institute", "Orla Venn"]
    assert len(first["ranked_chunk_ids"]) == 20
    # one sentence per chunk: the top-ranked chunk for Q1 is a real dense hit on a gold document
    assert first["ranked_chunk_ids"][0].split("#")[0] in {"Tidewater Institute", "Orla Venn"}
    assert {"span_iou@5", "precision_omega", "doc_recall@5", "doc_ndcg@10", "answer_f1"} <= set(records.columns)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["doc_recall@5"]["mean"] == pytest.approx(records["doc_recall@5"].mean())
    assert metrics["summary"]["n_queries"] == 16 and metrics["summary"]["generation_errors"] == 0


def test_breakdown_by_question_type(tmp_path):
    run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none")
    breakdown = json.loads((run_dir / "metrics.json").read_text())["breakdowns"]["type"]
    assert (breakdown["bridge"]["n"], breakdown["comparison"]["n"]) == (10, 6)
    records = pd.read_parquet(run_dir / "records.parquet")
    bridge = records[[m["type"] == "bridge" for m in records["metadata"]]]
    assert breakdown["bridge"]["doc_recall@5"] == pytest.approx(bridge["doc_recall@5"].mean())


def test_section_metrics_on_the_thai_suite(tmp_path):
    run_dir, info = run(tmp_path, "task=thai_legal_mini", "chunker=sections", "retriever=bm25", "generator=none")
    records = pd.read_parquet(run_dir / "records.parquet")
    assert {"section_hit@1", "section_multi_hit@20", "section_multi_mrr@10", "section_recall@5"} <= set(records.columns)
    assert all(len(s[0]) == 1 for s in records["ranked_sections"])  # one section per section chunk
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    sizes = [len(m["gold_sections"]) for m in records["metadata"]]
    expected = sum(r * n for r, n in zip(records["section_recall@1"], sizes)) / sum(sizes)
    assert summary["section_micro_recall@1"] == pytest.approx(expected)
    assert info["task"] == {}
