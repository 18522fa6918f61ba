"""Semantic, cluster, perplexity and margin chunkers: hand-computed boundaries and real-model checks."""

from __future__ import annotations

import numpy as np
import pytest

from ragsweep.chunkers.cluster import ClusterChunker, mean_pair_similarity, optimal_runs
from ragsweep.chunkers.margin import MarginChunker, walk
from ragsweep.chunkers.merge import group_spans, merge_to_target
from ragsweep.chunkers.perplexity import PerplexityChunker, find_minima, sentence_scores
from ragsweep.chunkers.semantic import SemanticChunker, breakpoints
from ragsweep.models.causal_lm import load_causal_lm, token_nlls
from ragsweep.text import sentence_spans
from ragsweep.types import Document

pytestmark = pytest.mark.model

TEXT = (
    "The pump moves 300 litres of water per minute. It weighs 14 kilograms. "
    "The council met on 14 March. The footbridge was closed on 2 March. Repairs will cost 46,000 pounds. "
    "Bananas are yellow. Apples can be red or green."
)


def test_find_minima_by_hand():
    ppl = [3.0, 2.0, 2.5, 1.0, 1.0, 4.0, 3.9, 5.0]
    # i=1: 2<3 and 2<2.5 -> minimum; i=3: 1<2.5 and 1==1 -> plateau case, drop 1.5; i=6: 3.9<4 and <5
    assert find_minima(ppl, 0.0) == ([1, 3, 6], 0.0)
    # theta = 0.5: i=1 drops 1.0/0.5 ok; i=3 left drop 1.5 ok; i=6 drops 0.1/1.1 ok (either side)
    assert find_minima(ppl, 0.5)[0] == [1, 3, 6]
    # theta = 1.2: i=1 (1.0, 0.5) fails; i=3 (1.5) ok; i=6 (0.1, 1.1) fails
    assert find_minima(ppl, 1.2)[0] == [3]
    drops: list[float] = []
    find_minima(ppl, 0.0, drops)
    # the smaller side drop of a strict minimum; the left drop on the plateau (as the reference records it)
    assert drops == pytest.approx([0.5, 1.5, 0.1])


def test_split_falls_after_the_minimum_sentence():
    sentences = [(0, 5), (6, 10), (11, 15), (16, 20), (21, 25)]
    assert group_spans(sentences, [1, 3]) == [(0, 10), (11, 20), (21, 25)]
    assert group_spans(sentences, []) == [(0, 25)]


def test_sentence_scores_skip_tokens_without_prediction():
    nll = np.array([np.nan, 2.0, 4.0, 1.0, 3.0])
    assert sentence_scores(nll, [2, 3]).tolist() == [2.0, pytest.approx(8 / 3)]


def test_merge_to_target_counts_words_or_characters():
    text = "one two three. four five. six seven eight nine. ten"
    spans = [(0, 14), (15, 25), (26, 47), (48, 51)]  # 3, 2, 4, 1 words
    assert merge_to_target(text, spans, 5) == [(0, 25), (26, 51)]
    assert merge_to_target(text, spans, 2) == [(0, 14), (15, 25), (26, 47), (48, 51)]
    assert merge_to_target("กขค งจ", [(0, 3), (4, 6)], 5, language="th") == [(0, 6)]


def test_margin_walk_uses_the_mean_of_the_last_five_margins():
    margins = {1: 0.3, 2: -0.1, 3: 0.2, 4: 0.4, 5: 0.5, 6: 0.1, 7: 0.35}
    # theta 0 until five margins exist: 1 joins, 2 splits (<=0), 3, 4, 5 join;
    # after five, theta = mean(0.3,-0.1,0.2,0.4,0.5) = 0.26: 6 (0.1) splits;
    # theta = mean(-0.1,0.2,0.4,0.5,0.1) = 0.22: 7 (0.35) joins.
    assert walk(lambda i, first: margins[i], 8) == [1, 5]


def test_semantic_breakpoints_above_the_percentile():
    assert breakpoints(np.array([0.1, 0.9, 0.2, 0.8]), 50.0) == [1, 3]
    assert breakpoints(np.array([]), 95.0) == []


def test_cluster_dp_on_hand_made_vectors():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    vectors = np.stack([a, a, a, b, b])
    brute = np.mean([vectors[i] @ vectors[j] for i in range(5) for j in range(i + 1, 5)])
    assert mean_pair_similarity(vectors) == pytest.approx(brute)
    assert optimal_runs(vectors, max_run=4) == [(0, 2), (3, 4)]
    assert optimal_runs(vectors, max_run=2) in ([(0, 1), (2, 2), (3, 4)], [(0, 0), (1, 2), (3, 4)])


def test_embedding_chunkers_return_exact_offsets(isolated_cache):
    doc = Document("d", TEXT)
    for chunker in (SemanticChunker(percentile=50.0), ClusterChunker(max_chunk_size=30, piece_size=10)):
        chunks = chunker.chunk([doc], progress=False)
        assert chunks and all(c.text == TEXT[c.start : c.end] for c in chunks)


def test_windowed_nll_with_kv_cache_equals_one_forward_pass():
    tokenizer, model = load_causal_lm("bundled:SmolLM2-135M-Instruct", "cpu")
    ids = tokenizer.encode(TEXT, add_special_tokens=False)
    full = token_nlls(model, ids, window=len(ids))
    windowed = token_nlls(model, ids, window=7)
    np.testing.assert_allclose(windowed[1:], full[1:], rtol=1e-4, atol=1e-4)
    assert np.isnan(full[0]) and (full[1:] > 0).all()
    restarted = token_nlls(model, ids, window=8, max_context=16, context_overlap=4)
    assert not np.isnan(restarted[1:]).any()  # every restart keeps 4 tokens of context


def test_perplexity_chunker_on_the_bundled_model():
    doc = Document("d", TEXT)
    chunker = PerplexityChunker()
    sentences = sentence_spans(TEXT)
    ppl = chunker.sentence_ppl(TEXT, sentences)
    expected = group_spans(sentences, find_minima(ppl, 0.0)[0])
    chunks = chunker.chunk([doc], progress=False)
    assert [(c.start, c.end) for c in chunks] == expected
    assert 1 < len(chunks) < len(sentences)


def test_margin_chunker_on_the_bundled_model():
    chunker = MarginChunker()
    margins = chunker.margins([("The pump weighs 14 kilograms.", "Bananas are yellow.")])
    assert margins.shape == (1,) and -1.0 <= margins[0] <= 1.0
    chunks = chunker.chunk([Document("d", TEXT)], progress=False)
    assert all(c.text == TEXT[c.start : c.end] for c in chunks) and chunks[0].start == 0
