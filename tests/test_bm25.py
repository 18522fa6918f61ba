"""The sparse BM25 backend must score exactly as rank-bm25 (the reference) on the same tokens."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ragsweep.retrievers.base import top_k
from ragsweep.retrievers.bm25 import BM25Retriever, build_sparse_bm25, sparse_bm25_scores
from ragsweep.types import Chunk


def test_bm25_score_by_hand():
    corpus = [["a", "b"], ["a", "c", "c"], ["d"]]
    index = build_sparse_bm25(corpus, k1=1.5, b=0.75, epsilon=0.25)
    avgdl = 2.0
    idf_c = math.log(3 - 1 + 0.5) - math.log(1 + 0.5)
    tf, dl = 2, 3
    expected = idf_c * tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))
    assert sparse_bm25_scores(index, ["c"])[1] == pytest.approx(expected)
    # "a" is in 2 of 3 docs: idf = log(1.5/2.5) < 0, floored at epsilon * mean idf.
    idfs = {"a": math.log(1.5 / 2.5), "b": math.log(2.5 / 1.5), "c": math.log(2.5 / 1.5), "d": math.log(2.5 / 1.5)}
    floor = 0.25 * sum(idfs.values()) / 4
    assert sparse_bm25_scores(index, ["a"])[0] == pytest.approx(floor * 1 * 2.5 / (1 + 1.5 * (1 - 0.75 + 0.75 * 2 / 2)))


def _random_corpus(rng: random.Random, n_docs: int, vocab: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocab)]
    return [[rng.choice(words[: rng.randint(2, vocab)]) for _ in range(rng.randint(0, 30))] for _ in range(n_docs)]


@pytest.mark.parametrize("seed", range(20))
def test_sparse_backend_matches_rank_bm25(seed):
    rng = random.Random(seed)
    corpus = _random_corpus(rng, rng.randint(3, 80), rng.randint(3, 40))
    corpus[0] = corpus[0] or ["w0"]  # rank-bm25 divides by avgdl: keep it > 0
    reference = BM25Okapi(corpus)
    ours = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    for _ in range(10):
        query = [f"w{rng.randint(0, 45)}" for _ in range(rng.randint(1, 6))]  # includes unknown and repeated terms
        expected = np.asarray(reference.get_scores(query))
        got = sparse_bm25_scores(ours, query)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        assert [i for i, _ in top_k(got, 10)] == [i for i, _ in top_k(expected, 10)]


def test_both_retriever_backends_rank_alike_on_text():
    texts = [
        "The pump moves 300 litres of water per minute.",
        "Change the engine oil every 100 hours.",
        "The warranty does not cover the mechanical seal.",
        "Prime the pump casing with water before every start.",
    ]
    chunks = [Chunk(f"d#{i}", "d", 0, len(t), t) for i, t in enumerate(texts)]
    questions = ["how often should the oil be changed", "what does the warranty cover", "water pump"]
    results = []
    for backend in ("sparse", "rank_bm25"):
        r = BM25Retriever(backend=backend)
        results.append(r.search(r.index(chunks), questions, 4))
    for ours, ref in zip(*results):
        assert [i for i, _ in ours] == [i for i, _ in ref]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in ref])
    assert results[0][0][0][0] == 1 and results[0][1][0][0] == 2


def test_thai_bm25_uses_word_segmentation():
    # three docs: with two, Okapi IDF of a term in one doc is log(1.5/1.5) = 0
    texts = ["ผู้ใดทิ้งขยะลงในแหล่งน้ำต้องระวางโทษปรับ", "เจ้าของป้ายดิจิทัลต้องเสียภาษีเป็นรายปี", "คณะกรรมการมีวาระสองปี"]
    chunks = [Chunk(f"d#{i}", "d", 0, len(t), t) for i, t in enumerate(texts)]
    r = BM25Retriever(language="th")
    ranked = r.search(r.index(chunks), ["ภาษีป้ายดิจิทัล"], 3)[0]
    assert ranked[0][0] == 1 and ranked[0][1] > 0
    assert r.tokenize("ภาษีป้ายดิจิทัล") == ["ภาษี", "ป้าย", "ดิจิทัล"]


def _float64_matrix_scores(corpus: list[list[str]], query: list[str], k1: float = 1.5, b: float = 0.75, eps: float = 0.25) -> np.ndarray:
    """The previous layout's scores, written plainly: a float64 weight per (document, term) computed as rank-bm25
    does, a query term's weights added in query-term order and multiplied by its count in the query."""
    n = len(corpus)
    lengths = np.array([len(d) for d in corpus], dtype=np.float64)
    avgdl = lengths.mean()
    vocab = list(dict.fromkeys(t for d in corpus for t in d))
    df = {t: sum(t in d for d in corpus) for t in vocab}
    idf_list = [math.log(n - df[t] + 0.5) - math.log(df[t] + 0.5) for t in vocab]
    floor = eps * (sum(idf_list) / len(idf_list))
    idf = {t: floor if v < 0 else v for t, v in zip(vocab, idf_list)}
    scores = np.zeros(n)
    for term in dict.fromkeys(t for t in query if t in idf):
        tf = np.array([d.count(term) for d in corpus])
        has = tf > 0
        weights = idf[term] * (tf[has] * (k1 + 1) / (tf[has] + k1 * (1 - b + b * lengths[has] / avgdl)))
        scores[has] += weights * query.count(term) if query.count(term) != 1 else weights
    return scores


@pytest.mark.parametrize("seed", range(6))
def test_coded_weights_give_the_float64_matrix_scores_bit_for_bit_within_8_bytes_a_posting(seed):
    rng = random.Random(seed)
    corpus = _random_corpus(rng, 400, 60)
    corpus[0] = corpus[0] or ["w0"]
    index = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    postings = sum(len(set(d)) for d in corpus)
    assert index.nbytes() <= 8 * postings and index.codes.dtype == np.uint16
    for _ in range(20):
        query = [f"w{rng.randint(0, 65)}" for _ in range(rng.randint(1, 8))]
        assert np.array_equal(sparse_bm25_scores(index, query), _float64_matrix_scores(corpus, query))


def test_dense_rows_are_granted_only_within_the_index_budget():
    """Short documents over a tiny vocabulary: every term is in most documents, and float64 rows for all of them
    would cost more than 8 bytes a posting; the rows granted stop at the budget, the rest stay postings."""
    from ragsweep.retrievers.bm25 import DENSE_TERM_SHARE

    rng = random.Random(7)
    corpus = [[f"w{rng.randint(0, 5)}" for _ in range(4)] for _ in range(3000)]
    index = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    postings = sum(len(set(d)) for d in corpus)
    eligible = [t for t in index.vocab if sum(t in d for d in corpus) >= DENSE_TERM_SHARE * len(corpus)]
    assert 0 < len(index.dense_rows) < len(eligible) and index.nbytes() <= 8 * postings
    for query in (["w0"], ["w1", "w5", "w1"], ["w2", "w3", "w4"]):
        assert np.array_equal(sparse_bm25_scores(index, query), _float64_matrix_scores(corpus, query))


def test_long_varied_documents_number_only_the_pairs_that_occur():
    """Term counts up to 400 over hundreds of document lengths: the (count, length) grid is too large for uint16
    codes, so only the pairs that occur are numbered; the scores are unchanged."""
    rng = random.Random(8)
    corpus = [["w0"] * rng.randint(1, 400) + [f"w{rng.randint(1, 30)}" for _ in range(rng.randint(0, 600))] for _ in range(500)]
    index = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    pairs = {(d.count(t), len(d)) for d in corpus for t in set(d)}
    assert (max(c for c, _ in pairs) + 1) * len({len(d) for d in corpus}) > 1 << 16
    assert index.ratios.size == len(pairs) + 1 and index.codes.dtype == np.uint16  # + the absent code
    for query in (["w0"], ["w0", "w3", "w3"], ["w17", "w29"]):
        assert np.array_equal(sparse_bm25_scores(index, query), _float64_matrix_scores(corpus, query))
