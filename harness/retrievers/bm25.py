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
from array import array
from collections import Counter, defaultdict
from itertools import count
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import sparse

from ragsweep.errors import ConfigError
from ragsweep.registry import RETRIEVERS
from ragsweep.retrievers.base import Retriever, top_k
from ragsweep.retrievers.bm25_kernel import accumulate
from ragsweep.text import word_tokens
from ragsweep.types import Chunk


# A term in at least this share of the documents also keeps its weights as a dense vector: adding one
# dense vector is several times faster than scattering that many postings, and such terms (the, of, a...)
# hold most of a query's postings. A dense row costs 8 bytes a document against 12 a posting: at a quarter
# of the documents, at most 2.7x the term's sparse size.
DENSE_TERM_SHARE = 0.25


@dataclass
class SparseBM25Index:
    vocab: dict[str, int]
    weights: sparse.csc_matrix  # docs x terms
    dense_rows: dict[int, int] = field(default_factory=dict)  # term column -> row of ``dense``
    dense: np.ndarray | None = None  # frequent terms x docs


BUILD_BATCH = 1 << 20  # most tokens (postings) per pass (8 MiB of int64 keys): the build's token-level memory
TF_BITS = 16  # a term counted 65,536 times in one document does not fit the packed key: the build says so


def _term_major_keys(ids: np.ndarray, doc_lens: np.ndarray, first_doc: int, n_docs: int, n_terms: int) -> np.ndarray:
    """One packed int64 per distinct (doc, term) of a batch of whole documents: (term * n_docs + doc) << 16 | tf,
    so that one sort of all keys orders the postings by term, then document."""
    keys = np.repeat(np.arange(first_doc, first_doc + doc_lens.size, dtype=np.int64), doc_lens) * max(n_terms, 1)
    keys += ids
    keys.sort()
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    tf = np.diff(np.append(starts, keys.size))
    if tf.size and tf.max() >= 1 << TF_BITS:
        raise ValueError(f"a term occurs {int(tf.max())} times in one document: BM25 counts up to {(1 << TF_BITS) - 1}")
    docs, terms = np.divmod(keys[starts], max(n_terms, 1))
    packed = terms * n_docs
    packed += docs
    packed <<= TF_BITS
    packed |= tf
    return packed


def build_sparse_bm25(corpus: Iterable[Sequence[str]], k1: float, b: float, epsilon: float) -> SparseBM25Index:
    """The doc x term weight matrix, built in array passes. Tokens become integer ids as they stream in
    (first-appearance order, rank-bm25's dict order, so its IDF mean is summed in the same order); batches of
    whole documents become packed (term, doc, count) keys, one in-place sort of which is the CSC order; keys
    are decoded and weights computed in slices. Peak memory: about 16 bytes a posting against the index's
    12 (results/bench/scale.json: build_peak_vs_index)."""
    vocab: defaultdict[str, int] = defaultdict(count().__next__)  # a new term gets the next id, in C
    ids = array("i")
    lengths = array("q")
    for doc in corpus:
        ids.extend(map(vocab.__getitem__, doc))
        lengths.append(len(doc))
    vocab.default_factory = None  # lookups from here on must not add terms
    n_docs, n_terms = len(lengths), len(vocab)
    if n_terms * max(n_docs, 1) >= 1 << (63 - TF_BITS):
        raise ValueError(f"{n_docs} documents x {n_terms} terms do not fit BM25's packed keys")
    doc_lens = np.frombuffer(lengths, dtype=np.int64)
    token_ids = np.frombuffer(ids, dtype=np.int32)
    # Token and posting passes go a batch / slice at a time: at most BUILD_BATCH, at most an eighth of the
    # corpus, so their temporaries (about 40 bytes a token or posting) stay small beside the index at any size.
    batch = min(BUILD_BATCH, max(1 << 14, token_ids.size // 8))
    keys = np.empty(token_ids.size, dtype=np.int64)  # room for every token; the distinct postings fill its start
    nnz, first, offset = 0, 0, 0
    while first < n_docs:  # whole documents, about ``batch`` tokens at a time
        last = int(np.searchsorted(np.cumsum(doc_lens[first:]), batch, side="right")) + first + 1
        last = min(max(last, first + 1), n_docs)
        n_tokens = int(doc_lens[first:last].sum())
        part = _term_major_keys(token_ids[offset : offset + n_tokens].astype(np.int64), doc_lens[first:last], first, n_docs, n_terms)
        keys[nnz : nnz + part.size] = part
        nnz, first, offset = nnz + part.size, last, offset + n_tokens
    del token_ids, ids
    keys.resize(nnz, refcheck=False)  # the unused end given back (keys owns its memory; no view of it exists)
    keys.sort()  # by term, then document: the CSC order (numpy's SIMD sort; keys are unique)
    indices = np.empty(nnz, dtype=np.int32)
    tf = np.empty(nnz, dtype=np.int32)
    df = np.zeros(n_terms, dtype=np.int64)
    step = min(BUILD_BATCH, max(1 << 14, nnz // 8))
    for s in range(0, nnz, step):  # decoded a slice at a time: no full-size temporary
        part = keys[s : s + step]
        tf[s : s + part.size] = part & ((1 << TF_BITS) - 1)
        term, doc = np.divmod(part >> TF_BITS, n_docs)
        indices[s : s + part.size] = doc
        df += np.bincount(term, minlength=n_terms)
    del keys
    # math.log per term and a sequential sum: rank-bm25's own arithmetic, to the last bit
    idf_list = [math.log(n_docs - d + 0.5) - math.log(d + 0.5) for d in df.tolist()]
    floor = epsilon * (sum(idf_list) / len(idf_list)) if idf_list else 0.0
    idf = np.array([floor if v < 0 else v for v in idf_list], dtype=np.float64)
    # int32 offsets where they fit, as scipy would choose: mixed widths would make it copy the indices to int64
    indptr = np.zeros(n_terms + 1, dtype=np.int32 if nnz < 2**31 else np.int64)
    np.cumsum(df, out=indptr[1:])
    # weight = idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))): rank-bm25's operations in its
    # order, a slice at a time
    doc_len = doc_lens.astype(np.float64)
    avgdl = doc_len.mean() if n_docs else 0.0
    data = np.empty(nnz)
    for s in range(0, nnz, step):
        e = min(s + step, nnz)
        t = tf[s:e]
        term = np.searchsorted(indptr, np.arange(s, e), side="right") - 1
        data[s:e] = idf[term] * (t * (k1 + 1) / (t + k1 * (1 - b + b * doc_len[indices[s:e]] / avgdl)))
    del tf
    weights = sparse.csc_matrix((data, indices, indptr), shape=(n_docs, n_terms))
    vocab = dict(vocab)
    frequent = np.flatnonzero(df >= max(DENSE_TERM_SHARE * n_docs, 1))
    dense = np.zeros((len(frequent), n_docs))
    for row, col in enumerate(frequent):
        start, end = weights.indptr[col], weights.indptr[col + 1]
        dense[row, weights.indices[start:end]] = weights.data[start:end]
    return SparseBM25Index(vocab, weights, {int(c): r for r, c in enumerate(frequent)}, dense)


def sparse_bm25_scores(index: SparseBM25Index, query: Sequence[str]) -> np.ndarray:
    """Every document's score: each query term's weights added in, in query-term order, the same additions
    per document as rank-bm25's loop (a dense row adds 0.0 where the term is absent, which changes nothing).
    The loop runs compiled where numba is installed (bm25_kernel)."""
    counts = Counter(t for t in query if t in index.vocab)
    cols = np.array([index.vocab[t] for t in counts], dtype=np.int64)
    qtfs = np.array(list(counts.values()), dtype=np.float64)
    dense_rows = np.array([index.dense_rows.get(int(c), -1) for c in cols], dtype=np.int64)
    scores = np.zeros(index.weights.shape[0])
    accumulate(scores, cols, qtfs, dense_rows, index)
    return scores


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
        if self.backend == "rank_bm25":
            from rank_bm25 import BM25Okapi

            return BM25Okapi([self.tokenize(c.text) for c in chunks], k1=self.k1, b=self.b, epsilon=self.epsilon)
        return build_sparse_bm25((self.tokenize(c.text) for c in chunks), self.k1, self.b, self.epsilon)

    def scores(self, artifact: Any, question: str) -> np.ndarray:
        tokens = self.tokenize(question)
        if self.backend == "rank_bm25":
            return np.asarray(artifact.get_scores(tokens), dtype=np.float64)
        return sparse_bm25_scores(artifact, tokens)

    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        return [top_k(self.scores(artifact, q), k) for q in questions]
