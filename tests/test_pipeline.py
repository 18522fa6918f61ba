"""The cached pipeline end to end through Hydra's compose API, on a bundled suite, in a temp folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from harness.hashing import sha256_file
from harness.runner import execute

CONFIGS = str(Path(__file__).resolve().parent.parent / "configs")
GROUPS = ("task", "chunker", "retriever", "reranker", "generator", "judge")


def run(tmp_path: Path, *overrides: str) -> tuple[Path, dict]:
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"cache_dir={tmp_path}/cache", f"results_dir={tmp_path}/runs", "progress=false", *overrides],
            return_hydra_config=True,
        )
    choices = {g: cfg.hydra.runtime.choices.get(g) for g in GROUPS}
    with open_dict(cfg):
        del cfg["hydra"]
    run_dir = execute(cfg, choices)
    import json

    return run_dir, json.loads((run_dir / "run.json").read_text())


def statuses(info: dict) -> dict[str, str]:
    return {k: v["status"] for k, v in info["stages"].items() if k != "score"}


def test_rerun_is_all_cache_hits_and_byte_identical(tmp_path):
    run_dir, first = run(tmp_path, "task=span_mini", "retriever=bm25")
    assert statuses(first) == {
        "load": "computed", "chunk": "computed", "index": "computed", "retrieve": "computed", "rerank": "skipped", "generate": "computed"
    }
    records_hash = sha256_file(run_dir / "records.parquet")
    metrics_hash = sha256_file(run_dir / "metrics.json")
    _, second = run(tmp_path, "task=span_mini", "retriever=bm25")
    assert statuses(second) == {
        "load": "hit", "chunk": "hit", "index": "hit", "retrieve": "hit", "rerank": "skipped", "generate": "hit"
    }
    assert sha256_file(run_dir / "records.parquet") == records_hash
    assert sha256_file(run_dir / "metrics.json") == metrics_hash
    assert first["git"].keys() == {"sha", "dirty"} and first["data_hashes"] and first["packages"]["torch"]


def test_changing_the_generator_reuses_retrieval(tmp_path):
    run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=extractive")
    _, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=none")
    assert statuses(info) == {
        "load": "hit", "chunk": "hit", "index": "hit", "retrieve": "hit", "rerank": "skipped", "generate": "skipped"
    }


def test_changing_a_chunker_parameter_invalidates_exactly_its_downstream(tmp_path):
    run(tmp_path, "task=multihop_mini", "retriever=bm25")
    _, info = run(tmp_path, "task=multihop_mini", "retriever=bm25", "chunker.size=32")
    assert statuses(info) == {
        "load": "hit", "chunk": "computed", "index": "computed", "retrieve": "computed", "rerank": "skipped", "generate": "computed"
    }


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
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["doc_recall@5"]["mean"] == pytest.approx(records["doc_recall@5"].mean())
    assert metrics["summary"]["n_queries"] == 16 and metrics["summary"]["generation_errors"] == 0
