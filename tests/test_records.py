"""records.parquet: typed columns, and what was retrieved readable in the file itself."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pyarrow.parquet as pq

from ragsweep.store.results import records_table, write_records
from ragsweep.tasks.base import resolve_path
from tests.helpers import run


def test_ranked_chunks_carry_the_document_text_at_their_offsets(tmp_path):
    run_dir, _ = run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none")
    records = pd.read_parquet(run_dir / "records.parquet")
    corpora = {p.stem: p.read_text("utf-8") for p in (resolve_path("bundled:span_mini") / "corpora").glob("*.md")}
    for _, row in records.iterrows():
        assert [c["chunk_id"] for c in row["ranked_chunks"]] == list(row["ranked_chunk_ids"])
        assert [c["score"] for c in row["ranked_chunks"]] == list(row["ranked_scores"])
        for c in row["ranked_chunks"]:
            assert c["text"] == corpora[c["doc_id"]][c["start"]:c["end"]]
    spans = records.iloc[0]["gold_spans"]
    assert set(spans[0]) == {"doc_id", "start", "end"} and isinstance(spans[0]["start"], int)
    schema = pq.read_schema(run_dir / "records.parquet")
    assert str(schema.field("gold_spans").type) == "list<element: struct<doc_id: string, start: int64, end: int64>>"
    assert str(schema.field("answers").type).startswith("list<")


def test_a_column_without_one_type_is_json_text_and_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    records = [{"query_id": "a", "metadata": {"type": "bridge"}}, {"query_id": "b", "metadata": {"type": ["x", "y"]}}]
    table = records_table(records)
    assert table.column("metadata").to_pylist() == [json.dumps({"type": "bridge"}), json.dumps({"type": ["x", "y"]})]
    assert "records column 'metadata' stored as JSON text" in caplog.text
    # metadata empty for every query: Parquet has no empty struct, so it is text as well, and the file writes
    write_records(tmp_path / "r.parquet", [{"query_id": "a", "metadata": {}}, {"query_id": "b", "metadata": {}}])
    assert pd.read_parquet(tmp_path / "r.parquet")["metadata"].tolist() == ["{}", "{}"]
    # a typed column stays typed
    assert str(records_table([{"x": [1, 2]}, {"x": None}]).column("x").type) == "list<item: int64>"


def test_a_cold_run_and_a_cached_run_write_the_same_bytes(tmp_path):
    """records.parquet is byte-identical whether every stage was computed or served from the cache (the query
    metadata's key order once followed the load stage's path)."""
    cold_dir, cold = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none", "results_dir=" + str(tmp_path / "cold"))
    warm_dir, warm = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none", "results_dir=" + str(tmp_path / "warm"))
    assert cold["stages"]["load"]["status"] == "computed" and warm["stages"]["load"]["status"] == "hit"
    assert (cold_dir / "records.parquet").read_bytes() == (warm_dir / "records.parquet").read_bytes()
