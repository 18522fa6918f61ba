"""Retrieval at scale keeps its answers: partial top-k selection, the array-built BM25 index, the compiled
query loop, blocked dense search and faiss return what the plain definitions return; a cached BM25 run
imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ragsweep.retrievers.base import top_k_indices, top_k_rows
from ragsweep.retrievers.bm25 import build_sparse_bm25, sparse_bm25_scores
from ragsweep.retrievers.bm25_loops import accumulate_loops
from ragsweep.retrievers.kernels import accumulate_numpy
from ragsweep.retrievers.dense import exact_search
from tests.helpers import run


def full_sort(scores: np.ndarray, k: int) -> np.ndarray:
    """The definition: a stable sort of every score, best first, ties to the earlier position, NaN last."""
    keys = np.where(np.isnan(scores), -np.inf, scores)
    return np.lexsort((np.arange(scores.size), -keys))[:k]


@pytest.mark.parametrize("kind", ["distinct", "few_values", "sparse_positive", "with_nan"])
def test_top_k_equals_a_full_stable_sort(kind):
    rng = np.random.default_rng(7)
    for _ in range(300):
        n, k = int(rng.integers(1, 5000)), int(rng.integers(0, 40))
        scores = {
            "distinct": lambda: rng.random(n),
            "few_values": lambda: rng.integers(0, 3, n).astype(float),  # ties everywhere, also at the k-th place
            "sparse_positive": lambda: rng.random(n) * (rng.random(n) < 0.01),  # BM25-like: mostly zeros
            "with_nan": lambda: np.where(rng.random(n) < 0.05, np.nan, rng.random(n)),
        }[kind]()
        assert np.array_equal(top_k_indices(scores, k), full_sort(scores, k))
        block = np.stack([scores, scores[::-1]]).astype(np.float32)
        assert np.array_equal(top_k_rows(block, k), np.stack([full_sort(r, k) for r in block]).reshape(2, -1))


def random_corpus(rng: np.random.Generator, n_docs: int) -> list[list[str]]:
    vocab = [f"w{i}" for i in range(300)]
    p = 1.0 / np.arange(1, 301)  # Zipf: a few terms in most documents (dense rows), a long tail
    p /= p.sum()
    return [list(rng.choice(vocab, size=int(rng.integers(1, 40)), p=p)) for _ in range(n_docs)]


def test_bm25_index_and_both_query_loops_match_rank_bm25_bit_for_bit():
    from rank_bm25 import BM25Okapi

    rng = np.random.default_rng(3)
    corpus = random_corpus(rng, 3000)
    index = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    assert index.dense is not None and len(index.dense_rows) >= 3  # frequent terms took the dense path
    reference = BM25Okapi(corpus, k1=1.5, b=0.75, epsilon=0.25)
    for _ in range(50):
        query = list(rng.choice([f"w{i}" for i in range(300)] + ["unseen"], size=int(rng.integers(1, 8))))
        ours = sparse_bm25_scores(index, query)
        np.testing.assert_allclose(ours, reference.get_scores(query), rtol=0, atol=1e-12)
        assert np.array_equal(top_k_indices(ours, 10), full_sort(np.asarray(reference.get_scores(query)), 10))
        terms = {t: query.count(t) for t in dict.fromkeys(query) if t in index.vocab}
        cols = np.array([index.vocab[t] for t in terms], dtype=np.int64)
        qtfs = np.array(list(terms.values()), dtype=np.float64)
        rows = np.array([index.dense_rows.get(int(c), -1) for c in cols], dtype=np.int64)
        a, b = np.zeros(len(corpus)), np.zeros(len(corpus))
        accumulate_numpy(a, cols, qtfs, rows, *index.arrays())
        accumulate_loops(b, cols, qtfs, rows, *index.arrays())  # the loop numba compiles
        assert np.array_equal(a, b)


def test_blocked_and_faiss_exact_search_return_the_same_top_k():
    rng = np.random.default_rng(5)
    corpus = rng.standard_normal((3000, 32)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    queries = corpus[:70] + 0.1 * rng.standard_normal((70, 32)).astype(np.float32)
    whole = exact_search(corpus, queries, 10, block_mb=1024)
    blocked = exact_search(corpus, queries, 10, block_mb=3000 * 4 * 8 / 2**20)  # 8 queries a block
    # BLAS may round a block's products differently in the last float32 bit: the ranking is the same
    assert [[i for i, _ in r] for r in whole] == [[i for i, _ in r] for r in blocked]
    np.testing.assert_allclose([[s for _, s in r] for r in whole], [[s for _, s in r] for r in blocked], rtol=0, atol=1e-6)
    faiss = pytest.importorskip("faiss")
    index = faiss.IndexFlatIP(32)
    index.add(corpus)
    _, ids = index.search(queries, 10)
    assert [[i for i, _ in r] for r in whole] == ids.tolist()


@pytest.mark.model
def test_approximate_search_records_its_recall_against_exact(tmp_path):
    pytest.importorskip("faiss")
    run_dir, info = run(tmp_path, "task=span_mini", "retriever=dense_faiss", "retriever.search=faiss_hnsw", "generator=none")
    report = info["retrieval"]
    assert report["search"] == "faiss_hnsw" and report["approximate"] is True and report["recall_queries"] == 14
    _, again = run(tmp_path, "task=span_mini", "retriever=dense_faiss", "retriever.search=faiss_hnsw", "generator=none")
    assert again["stages"]["retrieve"]["status"] == "hit" and again["retrieval"] == report  # kept with the cached rankings
    exact_dir, exact = run(tmp_path, "task=span_mini", "retriever=dense_faiss", "generator=none")
    assert exact["retrieval"] == {}
    # The recall it reports is the overlap of its top 20 with exact search's, computed here from both runs' rankings.
    approx_ranked = pd.read_parquet(run_dir / "records.parquet")["retrieved_chunk_ids"]
    exact_ranked = pd.read_parquet(exact_dir / "records.parquet")["retrieved_chunk_ids"]
    overlap = [len(set(a[:20]) & set(e[:20])) / len(e[:20]) for a, e in zip(approx_ranked, exact_ranked)]
    assert report["recall@20_vs_exact"] == pytest.approx(sum(overlap) / len(overlap))


@pytest.mark.process
def test_a_cached_bm25_run_imports_no_torch(tmp_path):
    code = (
        "import sys, json\n"
        "from tests.helpers import run\n"
        f"run(__import__('pathlib').Path({str(tmp_path)!r}), 'task=span_mini', 'retriever=bm25', 'generator=none')\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'faiss', 'numba', 'matplotlib') if m in sys.modules)))\n"
    )
    for _ in range(2):  # cold, then fully cached
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=str(__import__("pathlib").Path(__file__).parent.parent))
        assert out.returncode == 0, out.stderr[-2000:]
        assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_compiled_loops_equal_the_numpy_ones():
    """What runs on 50k+ documents where numba is installed: compiled here on a small input."""
    from ragsweep.retrievers.kernels import accumulate_numpy, accumulator

    pytest.importorskip("numba")
    rng = np.random.default_rng(4)
    corpus = random_corpus(rng, 2000)
    index = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    name, compiled = accumulator()
    assert name == "numba"
    for query in (["w1", "w7", "w250"], ["w3", "w3", "w40"]):
        terms = {t: query.count(t) for t in dict.fromkeys(query)}
        cols = np.array([index.vocab[t] for t in terms], dtype=np.int64)
        qtfs = np.array(list(terms.values()), dtype=np.float64)
        rows = np.array([index.dense_rows.get(int(c), -1) for c in cols], dtype=np.int64)
        a, b = np.zeros(len(corpus)), np.zeros(len(corpus))
        accumulate_numpy(a, cols, qtfs, rows, *index.arrays())
        compiled(b, cols, qtfs, rows, *index.arrays())
        assert np.array_equal(a, b)


def test_the_readme_table_is_computed_from_the_bench_result():
    from ragsweep.bench.scale import markdown_table

    size = {
        "bm25": {"ours": {"build_s": 1.0}, "bm25s": {"build_s": 3.0, "queries": 1000, "query_s": 0.5},
                 "rank_bm25": {"build_s": 2.0, "queries": 100, "query_s": 50.0}},
        "bm25_summary": {"build_peak_vs_index": 1.5, "ours_queries_per_s": 4000.0, "query_speedup_vs_bm25s": 2.0,
                         "build_speedup_vs_bm25s": 3.0, "query_speedup_vs_rank_bm25": 2000.0, "build_speedup_vs_rank_bm25": 2.0,
                         "top10_agreement_with_rank_bm25": 0.995, "query_time_vs_postings_floor": 2.5, "query_time_vs_bytes_touched_floor": 1.75,
                         "query_speedup_vs_bm25s_first_8": 1.25, "query_speedup_vs_bm25s_first_3": 1.125, "index_vs_bm25s": 0.875},
        "dense": {"ours": {"query_s": 0.6}, "faiss_flat": {"query_s": 0.4}},
        "dense_summary": {"time_vs_faiss_flat": 1.5, "query_time_vs_gemm_floor": 1.25, "peak_above_corpus_mb": 17.25, "tile_mb": 16.0},
    }
    size.update(measured_at="2026-12-05T07:00:00+00:00", load_average={"start": 1.04, "end": 2.26}, repeats=3,
                floors={"memory_gb_per_s": 40.46, "sgemm_gflop_per_s": 212.6})
    size["bm25"]["ours"]["repeats_query_s"] = [0.3, 0.25, 0.41]
    size["bm25"]["bm25s"]["repeats_query_s"] = [0.5]
    table = markdown_table({"sizes": {"100000": size}}, 10).splitlines()
    assert table[-1] == ("- 100,000 documents: measured 2026-12-05T07:00:00+00:00, load average (1 min) 1.0 before, 2.3 after; 3 repeats, "
                         "BM25 query time over them: ours 0.25-0.41 s, bm25s 0.5-0.5 s; floors: memory 40.5 GB/s, float32 GEMM 213 GFLOP/s.")
    row = table[2]
    # rank-bm25: 100 queries in 50 s = 2.0 queries/s; bm25s: 1,000 in 0.5 s = 2,000 queries/s; no HNSW at this size
    assert row == ("| 100,000 | 1.00 / 1.50x / 4,000 | 3.00 / 2,000 | 2.00 / 2.0 | 2.00x / 1.25x / 1.12x, 3.00x, 0.88x | 2,000x, 2.00x; 99.5% "
                   "| 2.5x / 1.8x | 0.60 / 0.40 | 1.50x / 1.25x | 17.2 / 16 | not built (over 100k) |")


def test_bench_scale_loads_every_suites_questions_through_its_loader(tmp_path):
    """The MultiHop-RAG questions (queries.json {queries: [...]}) are loaded, not silently skipped, and a question set
    that had to be repeated says so."""
    import shutil

    from ragsweep.bench.scale import load_questions
    from ragsweep.errors import DataError
    from ragsweep.tasks.base import resolve_path

    shutil.copytree(resolve_path("bundled:multihop_mini"), tmp_path / "hotpotqa_sample")
    shutil.copytree(resolve_path("bundled:span_mini"), tmp_path / "chroma_general")
    (tmp_path / "multihop_rag_sample").mkdir()
    queries = [{"id": "a", "question": "Which court heard the search case?", "question_type": "inference_query"},
               {"id": "b", "question": "Who testified for Apple?", "question_type": "inference_query"}]
    (tmp_path / "multihop_rag_sample" / "queries.json").write_text(json.dumps({"queries": queries}))
    truth = {q["id"]: {"answer": "x", "evidence_list": [{"fact": "A fact.", "title": "T", "source": "S"}]} for q in queries}
    (tmp_path / "multihop_rag_sample" / "ground_truth.json").write_text(json.dumps(truth))
    questions, described = load_questions(tmp_path)
    assert described["suites"]["hotpotqa_sample"] == 16 and described["suites"]["multihop_rag_sample"] == 2
    assert "Who testified for Apple?" in questions
    assert described["repeated"] and described["used"] == 1000 == len(questions)
    assert described["distinct"] == sum(described["suites"].values())
    (tmp_path / "multihop_rag_sample" / "queries.json").write_text(json.dumps({"queries": []}))
    with pytest.raises(DataError, match="multihop_rag_sample"):
        load_questions(tmp_path)


def test_the_compiled_top_k_keeps_the_numpy_order_with_ties_nan_and_inf():
    from ragsweep.retrievers.kernels import compiled

    pytest.importorskip("numba")
    heap, order = compiled("top_k"), compiled("order")
    rng = np.random.default_rng(9)
    for _ in range(400):  # few distinct values: ties everywhere, and at the k-th place
        n = int(rng.integers(1, 300))
        scores = rng.integers(0, 5, n).astype(np.float64)
        scores[rng.random(n) < 0.1] = np.nan
        scores[rng.random(n) < 0.05] = -np.inf
        k = int(rng.integers(1, 40))
        held_score, held_at = heap(scores, min(k, n))
        order(held_score, held_at)
        assert np.array_equal(held_at, full_sort(scores, k))


def test_the_compiled_batch_search_equals_numpy_per_query_and_rank_bm25():
    """What a BM25 run of 5k+ chunks runs: every query in one compiled call; the same positions and scores as the
    numpy loop and top_k_indices per query, and rank-bm25's ranking."""
    from rank_bm25 import BM25Okapi

    from ragsweep.retrievers import kernels
    from ragsweep.retrievers.bm25 import query_terms, search_sparse_bm25

    pytest.importorskip("numba")
    rng = np.random.default_rng(10)
    corpus = random_corpus(rng, kernels.NUMBA_MIN_DOCS + 500)
    index = build_sparse_bm25(corpus, 1.5, 0.75, 0.25)
    queries = [list(rng.choice([f"w{i}" for i in range(300)] + ["unseen"], size=int(rng.integers(0, 8)))) for _ in range(60)]
    ranked = search_sparse_bm25(index, queries, 10)  # compiled: n_docs >= NUMBA_MIN_DOCS
    reference = BM25Okapi(corpus, k1=1.5, b=0.75, epsilon=0.25)
    cols, qtfs, rows, starts = query_terms(index, queries)
    for q, query in enumerate(queries):
        scores = np.zeros(len(corpus))
        accumulate_numpy(scores, cols[starts[q]:starts[q + 1]], qtfs[starts[q]:starts[q + 1]], rows[starts[q]:starts[q + 1]], *index.arrays())
        assert [i for i, _ in ranked[q]] == top_k_indices(scores, 10).tolist() == full_sort(np.asarray(reference.get_scores(query)), 10).tolist()
        assert [s for _, s in ranked[q]] == scores[top_k_indices(scores, 10)].tolist()


def test_exact_search_on_a_torch_device_finds_the_numpy_top_k():
    """The GPU path, run here on torch's CPU device: tiles merged on the device, NaN last, the same top k and order as
    the numpy path to float tolerance."""
    from ragsweep.retrievers.dense import exact_search_torch

    rng = np.random.default_rng(11)
    corpus = rng.standard_normal((5000, 48)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    corpus[17] = np.nan  # a broken vector ranks last, never first
    queries = corpus[20:60] + 0.2 * rng.standard_normal((40, 48)).astype(np.float32)
    cpu = exact_search(corpus, queries, 10)
    for block_mb in (1024, 40 * 4 * 700 / 2**20):  # one tile; tiles of 700 chunks merged
        device = exact_search_torch(corpus, queries, 10, "cpu", block_mb=block_mb)
        assert [[i for i, _ in r] for r in device] == [[i for i, _ in r] for r in cpu]
        np.testing.assert_allclose([[s for _, s in r] for r in device], [[s for _, s in r] for r in cpu], rtol=0, atol=1e-5)
    assert all(17 not in [i for i, _ in r] for r in cpu)


def test_torch_work_runs_on_a_gpu_only_where_torch_can_use_one(monkeypatch, caplog):
    import torch

    from ragsweep.models.embedders import resolve_device
    from ragsweep.store import provenance

    def resolved() -> str:  # resolve_device answers once per process; each case here is a new process's question
        resolve_device.cache_clear()
        return resolve_device(None)

    monkeypatch.setattr("sys.platform", "linux")
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(provenance, "gpu_name", lambda: None)
    assert resolved() == "cpu"
    monkeypatch.setattr(provenance, "gpu_name", lambda: "NVIDIA H100")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolved() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolved() == "cpu" and "this torch cannot use it" in caplog.text
    resolve_device.cache_clear()  # the next test asks this machine, not the patched one


def test_a_gpu_search_is_cached_apart_from_the_cpu_one(monkeypatch):
    """Where exact search (and embedding) would run on a GPU, the retrieve stage's key and the embedding cache's id
    say so: a GPU's rankings and vectors, which round differently, are never served to a CPU run or the reverse."""
    from ragsweep.models import embedders
    from ragsweep.registry import RETRIEVERS

    dense = RETRIEVERS.build({"name": "dense"})
    hybrid = RETRIEVERS.build({"name": "hybrid"})
    monkeypatch.setattr(embedders, "resolve_device", lambda device: "cpu")
    assert dense.search_identity() == {} == hybrid.search_identity()  # the CPU keeps the keys it always had
    assert embedders._encoder("bundled:all-MiniLM-L6-v2", "passage", 64, None)[0] == "bundled:all-MiniLM-L6-v2"
    monkeypatch.setattr(embedders, "resolve_device", lambda device: "cuda")
    from ragsweep.retrievers import dense as dense_module

    monkeypatch.setattr(dense_module, "resolve_device", lambda device: "cuda")
    assert dense.search_identity() == {"device": "cuda"} and hybrid.search_identity() == {"1": {"device": "cuda"}}
    assert embedders._encoder("bundled:all-MiniLM-L6-v2", "passage", 64, None)[0] == "bundled:all-MiniLM-L6-v2@cuda"


def test_exact_search_holds_the_corpus_plus_one_tile_and_a_fraction():
    """Memory, counted by tracemalloc (deterministic, not timed): one reused tile of scores, its selection done a
    quarter of the rows at a time; never a copy or a mask of the corpus, never a second tile."""
    import tracemalloc

    rng = np.random.default_rng(12)
    corpus = rng.standard_normal((100_000, 64)).astype(np.float32)
    queries = corpus[:500] + 0.1 * rng.standard_normal((500, 64)).astype(np.float32)
    exact_search(corpus, queries, 10, block_mb=4)  # imports and first-call allocations: not counted
    tracemalloc.start()
    exact_search(corpus, queries, 10, block_mb=4)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.5 * 4 * 2**20 < corpus.nbytes / 2, peak / 2**20
