"""Retrieval at scale (``make bench-scale``): BM25 and dense search over 10k / 100k / 1M documents, ours
against rank-bm25, bm25s and faiss, with the hardware floor measured in the same run.

Corpus: synthetic documents of 2-4 sentences drawn (seeded) from real text: the HotpotQA sample and Chroma's
corpora of $RAGSWEEP_DATA when present, else the bundled suites. Questions: 1,000 real questions, loaded by the
suites' own loaders from the HotpotQA sample, Chroma's general set and the MultiHop-RAG sample (1,072 distinct), or
the bundled suites (repeated, and the result says so: ``question_set``). Every side gets the same tokens
(our tokenizer), so build and query times compare indexing and search, not tokenizers.

Each measurement is a child process (its peak RSS is its own), and the sides of one size alternate within
each repeat (ours, rank-bm25, bm25s, ours, ...), so machine drift falls on all of them. Figures: medians
over the repeats, every repeat kept. Dense search runs on synthetic unit vectors (d=384, queries near
corpus points): its cost depends on N, d and the number of queries, not on what the vectors mean.
Floors: memory bandwidth (a large copy) and float32 GEMM throughput, measured here; BM25's floor is reading
each query's postings once, dense search's is one pass over the corpus matrix at the GEMM rate.
Writes results/bench/scale.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ragsweep.bench.common import out_file, positive_int, positive_ints, write_result
from ragsweep.paths import results_root
from ragsweep.retrievers.base import top_k_indices
from ragsweep.text import word_tokens
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.scale")
SIZES = (10_000, 100_000, 1_000_000)
DIM = 384


def shared_data() -> Path:
    return Path(os.environ.get("RAGSWEEP_DATA", "data"))


QUESTIONS = 1000
SHORT_QUERIES = (8, 3)  # BM25 is also timed on each question's first 8 and first 3 tokens
# The suites whose questions the bench asks, loaded by their own loaders (as a run would load them).
DATA_SUITES = {
    "hotpotqa_sample": {"name": "hotpotqa", "questions": "questions.json", "corpus": "corpus.json"},
    "chroma_general": {"name": "chroma", "questions": "questions_df.csv", "corpora": "corpora", "suffix": ".md"},
    "multihop_rag_sample": {"name": "multihop_rag", "queries": "queries.json", "ground_truth": "ground_truth.json"},
}
BUNDLED_SUITES = {"multihop_mini": {"name": "hotpotqa"}, "span_mini": {"name": "chroma"}}


def load_questions(root: Path | None) -> tuple[list[str], dict[str, Any]]:
    """``QUESTIONS`` questions and what they are: from the three suites of ``root`` ($RAGSWEEP_DATA) or, without it,
    the bundled suites, each through its loader. A suite that loads no question stops the bench (one line): a ratio
    is never reported over a question set other than the one described. Where the suites hold fewer distinct
    questions than asked for, they are repeated and the description says so."""
    from ragsweep.errors import DataError
    from ragsweep.tasks.base import build_task

    suites = {name: {**cfg, "path": str(root / name)} for name, cfg in DATA_SUITES.items()} if root else \
        {name: {**cfg, "path": f"bundled:{name}"} for name, cfg in BUNDLED_SUITES.items()}
    questions: list[str] = []
    counts: dict[str, int] = {}
    for name, cfg in suites.items():
        loaded = [q.question for q in build_task(cfg).checked_load()[1]]
        if not loaded:
            raise DataError(cfg["path"], "bench scale: the suite loaded no question")
        counts[name] = len(loaded)
        questions += loaded
    distinct = list(dict.fromkeys(questions))
    used = (distinct * (QUESTIONS // len(distinct) + 1))[:QUESTIONS]
    return used, {"suites": counts, "distinct": len(distinct), "used": len(used), "repeated": len(distinct) < QUESTIONS}


def real_text() -> tuple[list[str], list[str], dict[str, Any]]:
    """(sentences, questions, where they came from)."""
    import re

    from ragsweep.tasks.base import resolve_path

    split = lambda text: [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]  # noqa: E731
    sentences: list[str] = []
    root = shared_data()
    if (root / "hotpotqa_sample" / "corpus.json").exists():
        for sents in json.loads((root / "hotpotqa_sample" / "corpus.json").read_text()).values():
            sentences += [s.strip() for s in sents if len(s.split()) >= 4]
        for path in sorted((root / "chroma_general" / "corpora").glob("*")):
            sentences += split(path.read_text("utf-8"))
        questions, described = load_questions(root)
        source = "$RAGSWEEP_DATA (HotpotQA sample, Chroma general, MultiHop-RAG sample)"
    else:
        for suite in BUNDLED_SUITES:
            for path in sorted(resolve_path(f"bundled:{suite}").rglob("*")):
                if path.suffix in (".md", ".json") and path.is_file():
                    sentences += split(path.read_text("utf-8"))
        questions, described = load_questions(None)
        source = "bundled suites ($RAGSWEEP_DATA absent)"
    return sentences, questions, {"source": source, **described}


def synthetic_corpus(n: int, sentences: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(sentences, k=rng.randint(2, 4))) for _ in range(n)]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def clear_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM), so the next peak is the next step's own."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ---- one measurement, in its own process ------------------------------------------------------------------

SIDE_MODULES = {
    "ours": ("ragsweep.retrievers.bm25", "ragsweep.retrievers.kernels", "ragsweep.retrievers.dense"),
    "rank_bm25": ("rank_bm25",), "bm25s": ("bm25s",), "faiss_flat": ("faiss",), "faiss_hnsw": ("faiss",),
}


def vocab_bytes(vocab: dict[str, int]) -> int:
    """A vocabulary's memory: the dict, its term strings and ids (it outlives the tokens the index was built from)."""
    return sys.getsizeof(vocab) + sum(sys.getsizeof(t) + sys.getsizeof(i) for t, i in vocab.items())


def bm25_index_bytes(index: Any) -> int:
    """What the built index holds: its arrays and its vocabulary."""
    return index.nbytes() + vocab_bytes(index.vocab) + sys.getsizeof(index.dense_rows)


def bm25s_index_bytes(model: Any) -> int:
    """bm25s's index as ours is counted: its score arrays (weights, document ids, offsets) and its vocabulary."""
    return sum(v.nbytes for v in model.scores.values() if hasattr(v, "nbytes")) + vocab_bytes(model.vocab_dict or {})


def import_side(side: str) -> None:
    """Import a side's libraries before its peak is measured: their code and data are not index memory."""
    import importlib

    for module in SIDE_MODULES[side]:
        importlib.import_module(module)


def bm25_child(side: str, n: int, k: int, query_limit: int) -> dict[str, Any]:
    sentences, questions, _ = real_text()
    docs = synthetic_corpus(n, sentences)
    t0 = time.perf_counter()
    tokens = [word_tokens(d) for d in docs]
    tokenize_s = time.perf_counter() - t0
    del docs
    q_tokens = [word_tokens(q) for q in questions][:query_limit]
    import_side(side)
    clear_peak()
    base = rss_mb()
    out: dict[str, Any] = {"tokenize_s": tokenize_s, "tokens": sum(map(len, tokens)), "queries": len(q_tokens)}
    if side == "ours":
        from ragsweep.retrievers.bm25 import build_sparse_bm25, search_sparse_bm25
        from ragsweep.retrievers.kernels import NUMBA_MIN_DOCS, accumulator

        index, out["build_s"] = timed(lambda: build_sparse_bm25(tokens, 1.5, 0.75, 0.25))
        out["build_peak_mb"] = peak_mb() - base
        out["index_mb"] = bm25_index_bytes(index) / 2**20
        del tokens
        search = lambda qs: [[i for i, _ in ranked] for ranked in search_sparse_bm25(index, qs, k)]  # noqa: E731  the retriever's path
        out["kernel"] = accumulator()[0] if n >= NUMBA_MIN_DOCS else "numpy"
        search_sparse_bm25(index, q_tokens[:1], k)  # numba compiles (or loads its cache) on first use: not timed
        # the floor: every query's postings read once (each posting's document and weight code; a dense row's weights)
        posting = index.indices.itemsize + index.codes.itemsize
        df = np.diff(index.indptr)
        for col, row in index.dense_rows.items():
            df[col] = np.count_nonzero(index.dense[row])
        out["postings"] = int(df.sum())
        cols = [[index.vocab[t] for t in set(q) if t in index.vocab] for q in q_tokens]
        out["postings_bytes"] = sum(int(df[c]) * posting for cs in cols for c in cs)
        # a frequent term is read as a dense row (8 bytes a document) instead of its postings
        out["read_bytes"] = sum(n * 8 if c in index.dense_rows else int(df[c]) * posting for cs in cols for c in cs)
        out["score_array_bytes"] = int(len(q_tokens) * n * 8 * 2)  # zero it, then select from it
    elif side == "rank_bm25":
        from rank_bm25 import BM25Okapi

        index, out["build_s"] = timed(lambda: BM25Okapi(tokens, k1=1.5, b=0.75, epsilon=0.25))
        out["build_peak_mb"] = peak_mb() - base
        del tokens
        search = lambda qs: [top_k_indices(np.asarray(index.get_scores(q)), k).tolist() for q in qs]  # noqa: E731
    elif side == "bm25s":
        import bm25s

        def build() -> Any:
            model = bm25s.BM25(k1=1.5, b=0.75, method="robertson", backend="numba")
            model.index(tokens, show_progress=False)
            return model

        index, out["build_s"] = timed(build)
        out["build_peak_mb"] = peak_mb() - base
        out["index_mb"] = bm25s_index_bytes(index) / 2**20
        del tokens
        index.retrieve([q_tokens[0]], k=k, show_progress=False, n_threads=1)  # numba compiles on first use: not timed

        def search(qs: list[list[str]]) -> list[list[int]]:
            ids, _ = index.retrieve(qs, k=k, show_progress=False, n_threads=1)
            return ids.tolist()
    else:
        raise ValueError(side)
    tops, out["query_s"] = timed(lambda: search(q_tokens))
    out["query_tokens"] = sum(map(len, q_tokens)) / len(q_tokens)
    if side != "rank_bm25":  # the same questions cut short: keyword-length queries, where fixed per-query costs weigh most
        for cut in SHORT_QUERIES:
            _, out[f"query_s_first_{cut}"] = timed(lambda: search([q[:cut] for q in q_tokens]))
    out["query_peak_mb"] = peak_mb() - base
    out["top"] = tops
    return out


def dense_child(side: str, n: int, k: int, n_queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((n, DIM), dtype=np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    picks = rng.integers(0, n, n_queries)
    queries = corpus[picks] + np.float32(0.5 / np.sqrt(DIM)) * rng.standard_normal((n_queries, DIM), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert queries.dtype == corpus.dtype == np.float32  # both sides search float32 (a float64 query doubles the work)
    import_side(side)
    clear_peak()
    base = rss_mb()
    out: dict[str, Any] = {"corpus_mb": corpus.nbytes / 2**20, "queries": n_queries}
    if side == "ours":
        from ragsweep.retrievers.dense import BLOCK_MB, exact_search

        exact_search(corpus, queries[:8], k)  # warm-up (BLAS threads, first pages): not timed
        clear_peak()
        base = rss_mb()
        ranked, out["query_s"] = timed(lambda: exact_search(corpus, queries, k))
        out["tile_mb"] = float(BLOCK_MB)  # one tile of scores for all the queries
        tops = [[i for i, _ in r] for r in ranked]
    else:
        import faiss

        faiss.omp_set_num_threads(os.cpu_count() or 1)
        if side == "faiss_flat":
            index = faiss.IndexFlatIP(DIM)
        else:  # faiss_hnsw
            index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 128
        _, out["build_s"] = timed(lambda: index.add(corpus))
        index.search(queries[:8], k)  # warm-up, as ours: not timed
        (_, ids), out["query_s"] = timed(lambda: index.search(queries, k))
        tops = ids.tolist()
    out["query_peak_mb"] = peak_mb() - base
    out["top"] = tops
    return out


def floors() -> dict[str, float]:
    """Memory bandwidth (GB/s, a 512 MiB copy) and float32 GEMM throughput (GFLOP/s, the dense search's own
    shape), best of 3."""
    src = np.ones(64 * 2**20, dtype=np.float64)
    dst = np.empty_like(src)
    copy = min(timed(lambda: np.copyto(dst, src))[1] for _ in range(3))
    a = np.random.default_rng(0).standard_normal((1024, DIM), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((DIM, 200_000), dtype=np.float32)
    gemm = min(timed(lambda: a @ b)[1] for _ in range(3))
    return {"memory_gb_per_s": 2 * src.nbytes / copy / 1e9, "sgemm_gflop_per_s": 2 * a.shape[0] * DIM * b.shape[1] / gemm / 1e9}


def write_suite(folder: Path, n_docs: int) -> tuple[int, int]:
    """A generic-format suite for end-to-end runs at scale: the HotpotQA sample's real documents and
    questions (with their gold documents), plus synthetic documents of real sentences up to ``n_docs``.
    (documents, questions) written; needs $RAGSWEEP_DATA."""
    root = shared_data() / "hotpotqa_sample"
    if not (root / "corpus.json").exists():
        raise SystemExit(f"{root}: not found (the end-to-end suite needs the HotpotQA sample)")
    corpus = json.loads((root / "corpus.json").read_text())
    questions = json.loads((root / "questions.json").read_text())
    sentences, _, _ = real_text()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            gold = sorted({title for title, _ in q["supporting_facts"]})
            f.write(json.dumps({"id": q["_id"], "question": q["question"], "answers": [q["answer"]], "gold_doc_ids": gold}) + "\n")
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for title, sents in corpus.items():
            f.write(json.dumps({"id": title, "title": title, "text": "".join(sents)}) + "\n")
        for i, text in enumerate(synthetic_corpus(max(0, n_docs - len(corpus)), sentences, seed=1)):
            f.write(json.dumps({"id": f"synthetic-{i:07d}", "text": text}) + "\n")
    return max(n_docs, len(corpus)), len(questions)


# ---- the parent: alternate sides, repeat, compare --------------------------------------------------------

def child(kind: str, side: str, n: int, k: int, limit: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "ragsweep", "bench", "scale", "--child", kind, side, str(n), str(k), str(limit)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["exit " + str(out.returncode)])[-1]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = result.pop("peak_rss_mb_self")
    return result


def agreement(a: list[list[int]], b: list[list[int]]) -> float:
    """Mean overlap of two top-k lists (as sets), over the queries both answered."""
    pairs = list(zip(a, b))
    return sum(len(set(x) & set(y)) / max(len(x), 1) for x, y in pairs) / len(pairs) if pairs else float("nan")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0]["error"]}
    keys = [k for k, v in ok[0].items() if isinstance(v, (int, float)) and k != "top"]
    out = {k: statistics.median(r[k] for r in ok) for k in keys}
    out["repeats_query_s"] = [r["query_s"] for r in ok]
    if "build_s" in ok[0]:
        out["repeats_build_s"] = [r["build_s"] for r in ok]
    out["top"] = ok[0]["top"]
    return out


def measure(kind: str, sides: dict[str, int], n: int, k: int, repeats: int, timeout: float) -> dict[str, Any]:
    """Each side (-> how many queries it answers) measured ``repeats`` times, the sides alternating."""
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    for r in range(repeats):
        for side, limit in sides.items():
            if runs[side] and "error" in runs[side][-1]:
                continue  # timed out or failed once: not retried
            log.info("%s n=%d %s (repeat %d of %d)", kind, n, side, r + 1, repeats)
            runs[side].append(child(kind, side, n, k, limit, timeout))
    return {side: summarize(rs) for side, rs in runs.items()}


def markdown_table(result: dict[str, Any], k: int) -> str:
    """The table of docs/benchmarks.md, from the result itself: every figure computed, none typed in."""
    def num(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    rows = [
        "| documents | BM25 ours: build s / peak vs index / queries/s | bm25s (numba, 1 thread): build s / queries/s "
        "| rank-bm25: build s / queries/s | ours vs bm25s: query speed (questions / first 8 / first 3 tokens), build speed, index size "
        "| ours vs rank-bm25 (query, build; top-10 same) "
        "| BM25 query vs floor (postings / bytes touched) | dense exact ours / faiss flat (1,000 queries, s) "
        "| dense vs faiss flat / vs GEMM floor | dense exact: peak above the corpus / one tile (MB) | faiss HNSW recall@10 vs exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, e in sorted(result["sizes"].items(), key=lambda kv: int(kv[0])):
        b, bs, d, ds = e["bm25"], e.get("bm25_summary", {}), e["dense"], e.get("dense_summary", {})
        ours, other, ref = b.get("ours", {}), b.get("bm25s", {}), b.get("rank_bm25")
        rank = f"{num(ref.get('build_s'), '.2f')} / {num(ref['queries'] / ref['query_s'] if ref and 'query_s' in ref else None, ',.1f')}" if ref else "not run (over 100k)"
        vs_rank = (f"{num(bs.get('query_speedup_vs_rank_bm25'), ',.0f')}x, {num(bs.get('build_speedup_vs_rank_bm25'), '.2f')}x; "
                   f"{num(100 * bs[f'top{k}_agreement_with_rank_bm25'] if f'top{k}_agreement_with_rank_bm25' in bs else None, '.1f')}%") if ref else "-"
        hnsw = ds.get(f"top{k}_agreement_with_faiss_hnsw")
        rows.append(
            f"| {int(n):,} | {num(ours.get('build_s'), '.2f')} / {num(bs.get('build_peak_vs_index'), '.2f')}x / {num(bs.get('ours_queries_per_s'), ',.0f')} "
            f"| {num(other.get('build_s'), '.2f')} / {num(other['queries'] / other['query_s'] if 'query_s' in other else None, ',.0f')} "
            f"| {rank} | {num(bs.get('query_speedup_vs_bm25s'), '.2f')}x / {num(bs.get('query_speedup_vs_bm25s_first_8'), '.2f')}x / "
            f"{num(bs.get('query_speedup_vs_bm25s_first_3'), '.2f')}x, {num(bs.get('build_speedup_vs_bm25s'), '.2f')}x, "
            f"{num(bs.get('index_vs_bm25s'), '.2f')}x | {vs_rank} "
            f"| {num(bs.get('query_time_vs_postings_floor'), '.1f')}x / {num(bs.get('query_time_vs_bytes_touched_floor'), '.1f')}x "
            f"| {num(d.get('ours', {}).get('query_s'), '.2f')} / {num(d.get('faiss_flat', {}).get('query_s'), '.2f')} "
            f"| {num(ds.get('time_vs_faiss_flat'), '.2f')}x / {num(ds.get('query_time_vs_gemm_floor'), '.2f')}x "
            f"| {num(ds.get('peak_above_corpus_mb'), '.1f')} / {num(ds.get('tile_mb'), '.0f')} "
            f"| {num(100 * hnsw if hnsw is not None else None, '.1f') + '%' if hnsw is not None else 'not built (over 100k)'} |"
        )
    return "\n".join(rows + [""] + provenance_lines(result))


def spread(side: dict[str, Any]) -> str:
    times = side.get("repeats_query_s") or []
    return f"{min(times):.3g}-{max(times):.3g} s" if times else "-"


def provenance_lines(result: dict[str, Any]) -> list[str]:
    """Under the table: when, where and under what load each size was measured, and the spread of the query times
    over its repeats (every repeat is in the result file)."""
    host = result.get("machine", {})
    lines = [f"Machine: {host.get('platform', '?')}, {host.get('cpu_count', '?')} CPUs; questions: {result.get('source', '?')}."] if host else []
    for n, e in sorted(result["sizes"].items(), key=lambda kv: int(kv[0])):
        load, floors = e.get("load_average") or {}, e.get("floors") or {}
        b = e.get("bm25", {})
        lines.append(
            f"- {int(n):,} documents: measured {e.get('measured_at', '?')}, load average (1 min) {load.get('start', float('nan')):.1f} before, "
            f"{load.get('end', float('nan')):.1f} after; {e.get('repeats', '?')} repeats, BM25 query time over them: ours {spread(b.get('ours', {}))}, "
            f"bm25s {spread(b.get('bm25s', {}))}; floors: memory {floors.get('memory_gb_per_s', float('nan')):.1f} GB/s, "
            f"float32 GEMM {floors.get('sgemm_gflop_per_s', float('nan')):.0f} GFLOP/s.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep bench scale", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=positive_ints, default=list(SIZES), help="corpus sizes to measure, comma-separated")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timings per side, alternating")
    parser.add_argument("--k", type=positive_int, default=10, help="chunks retrieved per query")
    parser.add_argument("--rank-bm25-max", type=positive_int, default=100_000, help="largest corpus rank-bm25 is run on")
    parser.add_argument("--rank-bm25-queries", type=positive_int, default=100, help="rank-bm25 answers this many queries (it is slow)")
    parser.add_argument("--hnsw-max", type=positive_int, default=100_000, help="largest corpus faiss HNSW is built for")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one measurement may take")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "scale.json", help="where the result goes (default: <results>/bench/scale.json)")
    parser.add_argument("--update", action="store_true", help="keep the sizes of an existing --out this run does not measure")
    parser.add_argument("--table", action="store_true", help="print the docs/benchmarks.md table from --out and exit (measures nothing)")
    parser.add_argument("--write-suite", type=Path, metavar="DIR", help="write a generic-format suite of --docs documents and exit")
    parser.add_argument("--docs", type=positive_int, default=1_000_000, help="documents in the written suite")
    parser.add_argument("--child", nargs=5, metavar=("KIND", "SIDE", "N", "K", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, side, n, k, limit = args.child
        fn = bm25_child if kind == "bm25" else dense_child
        result = fn(side, int(n), int(k), int(limit))
        result["peak_rss_mb_self"] = peak_mb()
        print(json.dumps(result))
        return 0
    if args.table:
        if not args.out.is_file():
            print(f"no {args.out}: run `ragsweep bench scale` first", file=sys.stderr)
            return 2
        print(markdown_table(json.loads(args.out.read_text()), args.k))
        return 0
    setup_logging()
    if args.write_suite:
        docs, n_questions = write_suite(args.write_suite, args.docs)
        log.info("wrote %s: %d documents, %d questions (ragsweep run task=generic task.path=%s)", args.write_suite, docs, n_questions, args.write_suite)
        return 0
    sentences, questions, source = real_text()
    from ragsweep.retrievers.kernels import warm_up

    warm_up()  # numba compiles once per machine (its disk cache): not in any timing
    log.info("questions: %d (%d distinct%s) from %s", len(questions), source["distinct"], ", repeated" if source["repeated"] else "",
             ", ".join(f"{name} {n}" for name, n in source["suites"].items()))
    result: dict[str, Any] = {"source": source["source"], "question_set": source, "sentences": len(sentences), "questions": len(questions), "k": args.k,
                              "repeats": args.repeats, "floors": floors(), "sizes": {}}
    bandwidth = result["floors"]["memory_gb_per_s"] * 1e9
    gflops = result["floors"]["sgemm_gflop_per_s"] * 1e9
    for n in args.sizes:
        load_before, measured_at = os.getloadavg()[0], datetime.now(timezone.utc).isoformat(timespec="seconds")
        # rank-bm25 answers the first rank_bm25_queries questions (it is slow): per-query figures compare,
        # and its top-k is compared with ours on those questions
        sides = {"ours": 1000, "bm25s": 1000, **({"rank_bm25": args.rank_bm25_queries} if n <= args.rank_bm25_max else {})}
        bm25 = measure("bm25", sides, n, args.k, args.repeats, args.timeout)
        dense = measure("dense", {"ours": 1000, "faiss_flat": 1000}, n, args.k, args.repeats, args.timeout)
        if n <= args.hnsw_max:  # an approximate index, opt-in: built once, its recall against exact search kept
            dense.update(measure("dense", {"faiss_hnsw": 1000}, n, args.k, 1, args.timeout))
        ours = bm25["ours"]
        entry: dict[str, Any] = {"bm25": bm25, "dense": dense}
        if "error" not in ours:
            per_query = ours["query_s"] / ours["queries"]
            postings_floor = ours["postings_bytes"] / bandwidth / ours["queries"]
            entry["bm25_summary"] = {
                "ours_queries_per_s": ours["queries"] / ours["query_s"],
                # the issue's floor: each query's postings read once at memory bandwidth
                "query_time_vs_postings_floor": per_query / postings_floor if postings_floor else None,
                # what our loop must touch: postings of rare terms, dense rows of frequent ones, the score array
                "query_time_vs_bytes_touched_floor": per_query / ((ours["read_bytes"] + ours["score_array_bytes"]) / bandwidth / ours["queries"]),
                "build_peak_vs_index": ours["build_peak_mb"] / ours["index_mb"],
                "index_bytes_per_posting": ours["index_mb"] * 2**20 / ours["postings"],
                "build_peak_bytes_per_posting": ours["build_peak_mb"] * 2**20 / ours["postings"],
            }
            for other in ("bm25s", "rank_bm25"):
                o = bm25.get(other, {})
                if o and "error" not in o:
                    entry["bm25_summary"][f"query_speedup_vs_{other}"] = (o["query_s"] / o["queries"]) / per_query
                    entry["bm25_summary"][f"build_speedup_vs_{other}"] = o["build_s"] / ours["build_s"]
                    entry["bm25_summary"][f"top{args.k}_agreement_with_{other}"] = agreement(ours["top"], o["top"])
            if (o := bm25.get("bm25s", {})) and "error" not in o:
                for cut in SHORT_QUERIES:
                    entry["bm25_summary"][f"query_speedup_vs_bm25s_first_{cut}"] = o[f"query_s_first_{cut}"] / ours[f"query_s_first_{cut}"]
                entry["bm25_summary"]["index_vs_bm25s"] = ours["index_mb"] / o["index_mb"]
        d = dense["ours"]
        if "error" not in d:
            flop_floor = 2 * d["queries"] * n * DIM / gflops
            byte_floor = n * DIM * 4 / bandwidth
            entry["dense_summary"] = {
                "ours_queries_per_s": d["queries"] / d["query_s"],
                # the search's peak above the corpus (and the queries), against one tile of scores
                "peak_above_corpus_mb": d["query_peak_mb"], "tile_mb": d["tile_mb"],
                "query_time_vs_gemm_floor": d["query_s"] / max(flop_floor, byte_floor),
            }
            for other in ("faiss_flat", "faiss_hnsw"):
                o = dense.get(other, {})
                if o and "error" not in o:
                    entry["dense_summary"][f"time_vs_{other}"] = d["query_s"] / o["query_s"]
                    entry["dense_summary"][f"top{args.k}_agreement_with_{other}"] = agreement(d["top"], o["top"])
        for group in (bm25, dense):
            for side in group.values():
                side.pop("top", None)
        entry["floors"], entry["repeats"] = result["floors"], args.repeats  # each size keeps what it was measured with
        entry["measured_at"], entry["load_average"] = measured_at, {"start": load_before, "end": os.getloadavg()[0]}
        result["sizes"][str(n)] = entry
        log.info("n=%d: %s %s", n, json.dumps(entry.get("bm25_summary")), json.dumps(entry.get("dense_summary")))
    if args.update and args.out.exists():  # re-measured sizes replace theirs; the others are kept as they were
        old = json.loads(args.out.read_text())
        kept = {n: {"floors": old.get("floors"), "repeats": old.get("repeats"), **e} for n, e in old.get("sizes", {}).items()}
        result["sizes"] = {**kept, **result["sizes"]}
    write_result(args.out, result)
    print(markdown_table(result, args.k))
    return 0
