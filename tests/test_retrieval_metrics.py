import math

import pytest

from ragsweep.metrics.retrieval import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k

RANKED = ["x", "a", "x", "b", "a", "c"]  # doc id of each retrieved chunk, best first
GOLD = ["a", "b", "z"]


def test_recall_counts_each_gold_doc_once_within_k():
    assert recall_at_k(RANKED, GOLD, 1) == 0.0
    assert recall_at_k(RANKED, GOLD, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, GOLD, 6) == pytest.approx(2 / 3)


def test_hit_and_mrr():
    assert hit_at_k(RANKED, GOLD, 1) == 0.0
    assert hit_at_k(RANKED, GOLD, 2) == 1.0
    assert mrr_at_k(RANKED, GOLD, 1) == 0.0
    assert mrr_at_k(RANKED, GOLD, 10) == pytest.approx(0.5)


def test_ndcg_ignores_repeated_chunks_of_a_found_doc():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # a at rank 2, b at rank 4; the second 'a' adds nothing
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three gold docs at ranks 1..3
    assert ndcg_at_k(RANKED, GOLD, 6) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b", "z"], GOLD, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "a", "a"], ["a"], 3) == pytest.approx(1.0)


def test_empty_gold_scores_zero():
    assert recall_at_k(RANKED, [], 5) == 0.0
    assert ndcg_at_k(RANKED, [], 5) == 0.0
