"""BM25 (Okapi, as rank-bm25 defines it) with two backends that score identically.

- ``rank_bm25``: the reference library, one Python loop per query term over every document.
- ``sparse``: the same formula precomputed into a sparse doc x term weight matrix; a query is one
  sparse matrix-vector product. Same IDF as rank-bm25 (log((N-n+0.5)/(n+0.5)), negative IDFs floored at
  epsilon x mean IDF), same repeated-query-term counting, so scores agree to float rounding and
  rankings are identical (tests/test_bm25.py, results/bench). We do not use bm25s here: its IDF
  variants differ from rank-bm25's, so its rankings do not match the reference.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import sparse

from ragsweep.errors import ConfigError
from ragsweep.registry import RETRIEVERS
from ragsweep.retrievers.base import Retriever, top_k
from ragsweep.text import word_tokens
from ragsweep.types import Chunk


@dataclass
class SparseBM25Index:
    vocab: dict[str, int]
    weights: sparse.csc_matrix  # docs x terms


def okapi_idf(doc_freq: dict[str, int], n_docs: int, epsilon: float) -> dict[str, float]:
    idf = {t: math.log(n_docs - df + 0.5) - math.log(df + 0.5) for t, df in doc_freq.items()}
    floor = epsilon * (sum(idf.values()) / len(idf)) if idf else 0.0
    return {t: (floor if v < 0 else v) for t, v in idf.items()}


def build_sparse_bm25(corpus: Sequence[Sequence[str]], k1: float, b: float, epsilon: float) -> SparseBM25Index:
    counts = [Counter(doc) for doc in corpus]
    doc_len = np.array([len(doc) for doc in corpus], dtype=float)
    avgdl = doc_len.mean() if len(corpus) else 0.0
    doc_freq: Counter[str] = Counter()
    for c in counts:
        doc_freq.update(c.keys())
    idf = okapi_idf(doc_freq, len(corpus), epsilon)
    vocab = {t: i for i, t in enumerate(sorted(doc_freq))}
    rows, cols, vals = [], [], []
    for d, c in enumerate(counts):
        norm = k1 * (1 - b + b * doc_len[d] / avgdl)
        for term, tf in c.items():
            rows.append(d)
            cols.append(vocab[term])
            vals.append(idf[term] * (tf * (k1 + 1) / (tf + norm)))
    weights = sparse.csc_matrix((vals, (rows, cols)), shape=(len(corpus), len(vocab)), dtype=np.float64)
    return SparseBM25Index(vocab, weights)


def sparse_bm25_scores(index: SparseBM25Index, query: Sequence[str]) -> np.ndarray:
    terms = Counter(t for t in query if t in index.vocab)
    if not terms:
        return np.zeros(index.weights.shape[0])
    cols = [index.vocab[t] for t in terms]
    q = np.array([terms[t] for t in terms], dtype=np.float64)
    return np.asarray(index.weights[:, cols] @ q).ravel()


@RETRIEVERS.register("bm25")
class BM25Retriever(Retriever):
    label_params = ("backend",)

    def __init__(self, backend: str = "sparse", k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, language: str = "en"):
        if backend not in {"sparse", "rank_bm25"}:
            raise ConfigError(f"bm25 backend must be 'sparse' or 'rank_bm25', got {backend!r}")
        self.backend, self.k1, self.b, self.epsilon, self.language = backend, k1, b, epsilon, language

    def tokenize(self, text: str) -> list[str]:
        return word_tokens(text, self.language)  # type: ignore[arg-type]

    def index(self, chunks: Sequence[Chunk]) -> Any:
        corpus = [self.tokenize(c.text) for c in chunks]
        if self.backend == "rank_bm25":
            from rank_bm25 import BM25Okapi

            return BM25Okapi(corpus, k1=self.k1, b=self.b, epsilon=self.epsilon)
        return build_sparse_bm25(corpus, self.k1, self.b, self.epsilon)

    def scores(self, artifact: Any, question: str) -> np.ndarray:
        tokens = self.tokenize(question)
        if self.backend == "rank_bm25":
            return np.asarray(artifact.get_scores(tokens), dtype=np.float64)
        return sparse_bm25_scores(artifact, tokens)

    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        return [top_k(self.scores(artifact, q), k) for q in questions]
