"""BM25 (Okapi, as rank-bm25 defines it) with two backends that score identically.

- ``rank_bm25``: the reference library, one Python loop per query term over every document.
- ``sparse``: the same formula over a term-major posting list whose weights are rebuilt exactly from a small
  table (SparseBM25Index); a query adds each term's postings into one score array. Same IDF as rank-bm25 (log((N-n+0.5)/(n+0.5)), negative IDFs floored at
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

from ragsweep.errors import ConfigError
from ragsweep.registry import RETRIEVERS
from ragsweep.retrievers.base import Retriever, top_k
from ragsweep.retrievers import kernels
from ragsweep.text import word_tokens
from ragsweep.types import Chunk


# A term in at least this share of the documents may keep its weights as a dense float64 row: adding one dense row
# is several times faster than scattering that many postings (2.4x faster than adding coded weights), and such terms
# (the, of, a...) hold most of a query's postings. Rows cost 8 bytes a document, so they are granted most frequent
# first only while the whole index stays within 8 bytes a posting (bm25s's float32 weight + int32 document).
DENSE_TERM_SHARE = 0.25
INDEX_BYTES_PER_POSTING = 8


@dataclass
class SparseBM25Index:
    """BM25 as rank-bm25 scores it, without a float per posting: a posting's weight is ``idf[term] *
    ratios[code]``, where the code names the posting's (term frequency, document length) pair and ``ratios`` holds
    rank-bm25's ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` for each pair that occurs, computed as
    rank-bm25 computes it. Every weight is thus bit for bit the one a float64 matrix would hold, at 6 bytes a
    posting (int32 document, uint16 code) instead of 12; ``ratios`` has a few thousand entries and stays in cache."""

    vocab: dict[str, int]
    n_docs: int
    idf: np.ndarray  # float64 per term
    ratios: np.ndarray  # float64 per code
    indptr: np.ndarray  # per term: its postings' range (empty for a dense-row term)
    indices: np.ndarray  # int32 document of each posting, term-major
    codes: np.ndarray  # uint16 (uint32 where a corpus has more than 65,536 distinct pairs) code of each posting
    dense_rows: dict[int, int] = field(default_factory=dict)  # term -> row of ``dense``
    dense: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # frequent terms x docs, float64 weights

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.idf, self.ratios, self.indptr, self.indices, self.codes, self.dense

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())


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


def _ratio(tf: np.ndarray, dl: np.ndarray, k1: float, b: float, avgdl: float) -> np.ndarray:
    """rank-bm25's term-frequency factor, its operations in its order (float64)."""
    return tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))


def _pair_codes(tf: np.ndarray, indices: np.ndarray, doc_lens: np.ndarray, k1: float, b: float, step: int) -> tuple[np.ndarray, np.ndarray]:
    """(code of each posting's (tf, document length) pair, the ratio of each code). Only the pairs that occur get a
    code, numbered in (tf, length) order; code 0 is tf 0: absent, 0.0. A pair's place in the (tf x distinct lengths)
    grid is tf x the number of lengths + the length's rank; where that grid fits uint16 (it does unless documents
    are long and varied) the pairs that occur are found by counting, a slice at a time, else by a sort of the
    postings."""
    lengths, length_code = np.unique(doc_lens, return_inverse=True)
    avgdl = float(doc_lens.astype(np.float64).mean()) if doc_lens.size else 0.0
    max_tf = int(tf.max()) if tf.size else 0
    if avgdl == 0.0:
        return np.zeros(tf.size, np.uint16), np.zeros(1)
    if (max_tf + 1) * lengths.size <= 1 << 16:
        codes = np.empty(tf.size, np.uint16)
        for s in range(0, tf.size, step):
            codes[s : s + step] = tf[s : s + step] * lengths.size + length_code[indices[s : s + step]]
        occurs = np.bincount(codes, minlength=(max_tf + 1) * lengths.size).astype(bool)
        occurs[0] = True
        renumber = (np.cumsum(occurs) - 1).astype(np.uint16)
        for s in range(0, tf.size, step):
            codes[s : s + step] = renumber[codes[s : s + step]]
        occurring = np.flatnonzero(occurs)
    else:
        pairs = tf.astype(np.int64) * lengths.size + length_code[indices]
        occurring, inverse = np.unique(pairs, return_inverse=True)
        occurring = np.concatenate([[0], occurring])  # code 0: absent
        codes = (inverse + 1).astype(np.uint16 if occurring.size <= 1 << 16 else np.uint32)
    grid_tf, grid_dl = np.divmod(occurring, lengths.size)
    return codes, _ratio(grid_tf, lengths[grid_dl].astype(np.float64), k1, b, avgdl)


def build_sparse_bm25(corpus: Iterable[Sequence[str]], k1: float, b: float, epsilon: float) -> SparseBM25Index:
    """The index, built in array passes. Tokens become integer ids as they stream in (first-appearance order,
    rank-bm25's dict order, so its IDF mean is summed in the same order); batches of whole documents become packed
    (term, doc, count) keys, one in-place sort of which is the term-major order; keys are decoded in slices.
    Peak memory: the packed keys, 8 bytes a token (results/bench/scale.json: build_peak_vs_index)."""
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
    keys.sort()  # by term, then document: the term-major order (numpy's SIMD sort; keys are unique)
    indices = np.empty(nnz, dtype=np.int32)
    tf = np.empty(nnz, dtype=np.uint16)
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
    codes, ratios = _pair_codes(tf, indices, doc_lens, k1, b, step)
    del tf
    starts = np.concatenate([[0], np.cumsum(df)])
    frequent = _dense_terms(df, n_docs, codes.itemsize + indices.itemsize, idf.nbytes + ratios.nbytes + starts.nbytes)
    dense = np.zeros((len(frequent), n_docs))
    for row, col in enumerate(frequent):
        span = slice(starts[col], starts[col + 1])
        dense[row, indices[span]] = idf[col] * ratios[codes[span]]  # the weight the query loop would compute
    if frequent.size:  # their postings leave the term-major arrays
        keep = np.repeat(~np.isin(np.arange(n_terms), frequent), df)
        indices, codes = indices[keep], codes[keep]
        df[frequent] = 0
    indptr = np.zeros(n_terms + 1, dtype=np.int32 if indices.size < 2**31 else np.int64)  # int32 offsets where they fit
    np.cumsum(df, out=indptr[1:])
    return SparseBM25Index(dict(vocab), n_docs, idf, ratios, indptr, indices, codes, {int(c): r for r, c in enumerate(frequent)}, dense)


def _dense_terms(df: np.ndarray, n_docs: int, posting_bytes: int, fixed_bytes: int) -> np.ndarray:
    """The terms that get a dense row: those in at least DENSE_TERM_SHARE of the documents, most frequent first,
    while the index (postings, rows, per-term arrays) stays within INDEX_BYTES_PER_POSTING bytes a posting."""
    budget = INDEX_BYTES_PER_POSTING * int(df.sum()) - posting_bytes * int(df.sum()) - fixed_bytes
    chosen = []
    for col in sorted(np.flatnonzero(df >= max(DENSE_TERM_SHARE * n_docs, 1)).tolist(), key=lambda c: (-df[c], c)):
        cost = 8 * n_docs - posting_bytes * int(df[col])
        if cost > budget:
            break
        budget -= cost
        chosen.append(col)
    return np.array(sorted(chosen), dtype=np.int64)


def query_terms(index: SparseBM25Index, queries: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(term columns, their counts, their dense rows or -1, each query's start in them): the queries' known terms,
    each once per query in first-appearance order (rank-bm25 adds a repeated term once per repeat: the count
    multiplies it)."""
    cols: list[int] = []
    qtfs: list[int] = []
    starts = [0]
    for query in queries:
        counts = Counter(t for t in query if t in index.vocab)
        cols += (index.vocab[t] for t in counts)
        qtfs += counts.values()
        starts.append(len(cols))
    rows = [index.dense_rows.get(c, -1) for c in cols]
    return np.array(cols, dtype=np.int64), np.array(qtfs, dtype=np.float64), np.array(rows, dtype=np.int64), np.array(starts, dtype=np.int64)


def sparse_bm25_scores(index: SparseBM25Index, query: Sequence[str]) -> np.ndarray:
    """Every document's score: each query term's weights added in, in query-term order, the same additions
    per document as rank-bm25's loop (a dense row adds 0.0 where the term is absent, which changes nothing).
    The loop runs compiled where numba is installed (kernels)."""
    cols, qtfs, rows, _ = query_terms(index, [query])
    scores = np.zeros(index.n_docs)
    kernels.accumulate(scores, cols, qtfs, rows, index)
    return scores


def search_sparse_bm25(index: SparseBM25Index, queries: Sequence[Sequence[str]], k: int) -> list[list[tuple[int, float]]]:
    """Each query's top k ``(position, score)``, best first, ties to the earlier position: the whole batch in one
    compiled call where numba is installed (kernels.search)."""
    at, score = kernels.search(index, *query_terms(index, queries), k)
    return [list(zip(a, s)) for a, s in zip(at.tolist(), score.tolist())]


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
        if self.backend == "rank_bm25":
            return [top_k(self.scores(artifact, q), k) for q in questions]
        return search_sparse_bm25(artifact, [self.tokenize(q) for q in questions], k)
