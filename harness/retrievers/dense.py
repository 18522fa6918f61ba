"""Dense retrieval: inner product of unit-normalised embeddings (ragsweep.models.embedders), i.e. cosine.

``search`` picks how the top k are found:
- ``exact`` (default): numpy, the corpus scanned in tiles whose scores for all questions fit ``block_mb``, so
  memory is the corpus plus one tile and a quarter of one (never the questions x corpus matrix); ties to the
  earlier chunk. On a CUDA GPU (``device`` cuda, or unset with a GPU present) the same scan runs in torch on the
  GPU (``exact_search_torch``: the same top k to float tolerance), and run.json ``retrieval`` says so.
- ``faiss_flat``: faiss IndexFlatIP, also exact (same top k up to float ties; optional, `pip install faiss-cpu`).
- ``faiss_ivf`` / ``faiss_hnsw``: approximate (IVF with ``nlist`` lists and ``nprobe`` probed; HNSW with
  ``hnsw_m`` links and ``ef_search``). The run records their recall@k against exact search, measured on
  ``recall_queries`` of its questions (run.json ``retrieval``), so an approximate number is never mistaken
  for an exact one.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from ragsweep import runtime
from ragsweep.models.embedders import embed, embed_rows, resolve_device
from ragsweep.errors import ConfigError
from ragsweep.registry import RETRIEVERS
from ragsweep.retrievers.base import Retriever, nan_last, top_k_rows
from ragsweep.types import Chunk

log = logging.getLogger(__name__)

SEARCHES = ("exact", "faiss_flat", "faiss_ivf", "faiss_hnsw")


QUERY_BLOCK = 4096  # questions per pass over the corpus (more questions: more passes, each efficient)
BLOCK_MB = 16  # the default size of one tile of scores (configs/retriever/dense.yaml block_mb)


def exact_search(corpus: np.ndarray, queries: np.ndarray, k: int, block_mb: float = BLOCK_MB) -> list[list[tuple[int, float]]]:
    """Top-k inner products per query, ties to the earlier chunk. The corpus is scanned in tiles whose
    scores for a block of queries fit ``block_mb``, each tile's product written into one reused buffer (memory: the
    corpus plus one tile and at most a quarter of one; small tiles stay in cache). Each tile's own top k is merged
    into the rows whose current k-th best it beats: a tile can only
    displace a held chunk by scoring strictly higher (on a tie the earlier chunk, already held, wins), so
    the result is the top k of the whole score row. One tile covering the corpus is one product and one
    selection, as a plain implementation would do it."""
    if len(queries) > QUERY_BLOCK:
        return [r for s in range(0, len(queries), QUERY_BLOCK) for r in exact_search(corpus, queries[s : s + QUERY_BLOCK], k, block_mb)]
    n, k = len(corpus), min(k, len(corpus))
    if k <= 0 or len(queries) == 0:
        return [[] for _ in queries]
    queries = np.asarray(queries, dtype=corpus.dtype)  # a float64 query would turn the product into float64 (twice the work)
    tile = max(k, int(block_mb * 2**20 // (len(queries) * 4)))
    buffer = np.empty(len(queries) * min(tile, n), dtype=corpus.dtype)  # every tile's scores, in turn
    best_idx = best_val = None
    for lo in range(0, n, tile):
        part = corpus[lo : lo + tile]
        scores = np.matmul(queries, part.T, out=buffer[: len(queries) * len(part)].reshape(len(queries), len(part)))
        # A non-finite vector gives NaN scores, which rank last: nan_last checks each tile by its max (NaN
        # propagates), never by a whole-corpus isfinite, which would allocate a mask a quarter of the corpus's size.
        scores = nan_last(scores)
        if best_idx is None:
            idx = top_k_rows(scores, k)
            best_val, best_idx = np.take_along_axis(scores, idx, axis=1), idx + lo
            continue
        # the tile's scores above each affected row's k-th best, merged with the k held: sorted by row, then score
        # (descending), then chunk position, and the first k of each row kept
        rows = np.flatnonzero(scores.max(axis=1) > best_val[:, -1])
        if rows.size == 0:
            continue
        found = []
        step = max(1, len(scores) // 4)  # the affected rows a quarter of the tile at a time: a copy of at most that
        for s in range(0, rows.size, step):
            block = rows[s : s + step]
            sub_r, sub_c = np.nonzero(scores[block] > best_val[block, -1:])
            found.append((block[sub_r], sub_c))
        new_r, new_c = np.concatenate([r for r, _ in found]), np.concatenate([c for _, c in found])
        all_row = np.concatenate([np.repeat(rows, k), new_r])
        all_val = np.concatenate([best_val[rows].ravel(), scores[new_r, new_c]])
        all_idx = np.concatenate([best_idx[rows].ravel(), new_c + lo])
        order = np.lexsort((all_idx, -all_val, all_row))
        all_row, all_val, all_idx = all_row[order], all_val[order], all_idx[order]
        starts = np.flatnonzero(np.diff(all_row, prepend=-1))
        keep = np.arange(all_row.size) - np.repeat(starts, np.diff(np.append(starts, all_row.size))) < k
        best_val[rows], best_idx[rows] = all_val[keep].reshape(-1, k), all_idx[keep].reshape(-1, k)
    assert best_idx is not None and best_val is not None
    return [list(zip(i_row.tolist(), v_row.tolist())) for i_row, v_row in zip(best_idx, best_val)]


def exact_search_torch(corpus: np.ndarray, queries: np.ndarray, k: int, device: str, block_mb: float = 1024) -> list[list[tuple[int, float]]]:
    """``exact_search`` on a torch device (a CUDA GPU): the corpus copied there once per call and scanned in tiles
    whose scores fit ``block_mb`` of device memory, each tile's top k merged into the k held per query. The same top
    k as the numpy path to float tolerance (a GPU's float32 products round differently in the last bits); a tie at
    the k-th place may keep either chunk, and the k kept are ordered as the numpy path orders them."""
    import torch

    n, k = len(corpus), min(k, len(corpus))
    if k <= 0 or len(queries) == 0:
        return [[] for _ in queries]
    with torch.inference_mode():
        docs = torch.from_numpy(np.ascontiguousarray(corpus, dtype=np.float32)).to(device)
        asked = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)).to(device)
        tile = max(k, int(block_mb * 2**20 // (len(queries) * 4)))
        best_val = best_idx = None
        for lo in range(0, n, tile):
            scores = torch.nan_to_num(asked @ docs[lo : lo + tile].T, nan=-torch.inf)  # NaN ranks last, as on the CPU
            val, idx = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            idx += lo
            if best_val is not None:
                val, pick = torch.topk(torch.cat([best_val, val], dim=1), k, dim=1)
                idx = torch.gather(torch.cat([best_idx, idx], dim=1), 1, pick)
            best_val, best_idx = val, idx
        assert best_val is not None and best_idx is not None
        vals, idxs = best_val.cpu().numpy(), best_idx.cpu().numpy()
    order = np.lexsort((idxs, -vals), axis=-1)
    vals, idxs = np.take_along_axis(vals, order, axis=1), np.take_along_axis(idxs, order, axis=1)
    return [list(zip(i_row.tolist(), v_row.tolist())) for i_row, v_row in zip(idxs, vals)]


def load_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ConfigError("retriever.search=faiss_* needs faiss: pip install faiss-cpu (or ragsweep[faiss])") from None
    return faiss


def faiss_index(vectors: np.ndarray, search: str, nlist: int | None, hnsw_m: int, seed: int) -> Any:
    faiss = load_faiss()
    d = vectors.shape[1]
    if search == "faiss_flat":
        index = faiss.IndexFlatIP(d)
    elif search == "faiss_hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
        lists = nlist or max(1, int(4 * np.sqrt(len(vectors))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, min(lists, len(vectors)), faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed  # k-means initialisation: deterministic lists
        index.train(vectors)
    index.add(vectors)
    return index


@RETRIEVERS.register("dense")
class DenseRetriever(Retriever):
    version = "2"  # the index holds references into the embedding cache, not the vectors
    label_params = ("model", "search")

    def __init__(
        self,
        model: str = "bundled:all-MiniLM-L6-v2",
        query_prefix: str = "",
        document_prefix: str = "",
        batch_size: int = 64,
        device: str | None = None,
        search: str = "exact",
        block_mb: float = BLOCK_MB,
        nlist: int | None = None,
        nprobe: int = 16,
        hnsw_m: int = 32,
        ef_search: int = 128,
        recall_queries: int = 200,
        seed: int = 0,
    ):
        if search not in SEARCHES:
            raise ConfigError(f"retriever.search must be one of {', '.join(SEARCHES)}, not {search!r}")
        self.model, self.query_prefix, self.document_prefix = model, query_prefix, document_prefix
        self.batch_size, self.device = batch_size, device
        self.search_kind, self.block_mb = search, block_mb
        self.nlist, self.nprobe, self.hnsw_m, self.ef_search = nlist, nprobe, hnsw_m, ef_search
        self.recall_queries, self.seed = recall_queries, seed
        self.report: dict[str, Any] = {}

    def search_identity(self) -> dict[str, Any]:
        """Exact search on a GPU rounds its products differently: its rankings are kept apart from the CPU's."""
        device = resolve_device(self.device) if self.search_kind == "exact" else "cpu"
        return {"device": device} if device != "cpu" else {}

    @property
    def approximate(self) -> bool:
        return self.search_kind in ("faiss_ivf", "faiss_hnsw")

    def index(self, chunks: Sequence[Chunk]) -> dict[str, Any]:
        """References to the chunks' rows in the embedding cache (each vector is stored once, there), plus an
        approximate faiss index's own structure where one is asked for."""
        rows = embed_rows(self.model, [self.document_prefix + c.text for c in chunks], self.batch_size, self.device, role="passage")
        artifact: dict[str, Any] = {"rows": rows}
        if self.approximate and len(rows):
            faiss = load_faiss()
            artifact["faiss"] = faiss.serialize_index(faiss_index(self.corpus(artifact), self.search_kind, self.nlist, self.hnsw_m, self.seed))
        return artifact

    def usable(self, artifact: Any) -> bool:
        if runtime.current().embedding_cache().has(artifact["rows"]):
            return True
        log.warning("the dense index refers to embeddings no longer in the cache (moved aside or deleted): rebuilding it")
        return False

    @staticmethod
    def corpus(artifact: dict[str, Any]) -> np.ndarray:
        return np.asarray(runtime.current().embedding_cache().vectors(artifact["rows"]), dtype=np.float32)

    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        if len(artifact["rows"]) == 0:
            return [[] for _ in questions]
        vectors = self.corpus(artifact)
        queries = np.ascontiguousarray(embed(self.model, [self.query_prefix + q for q in questions], self.batch_size, self.device, role="query"), dtype=np.float32)
        if self.search_kind == "exact":
            device = resolve_device(self.device)
            if device == "cpu":
                return exact_search(vectors, queries, k, self.block_mb)
            self.report = {"search": "exact", "search_device": device}
            return exact_search_torch(vectors, queries, k, device)
        faiss = load_faiss()
        if self.search_kind == "faiss_flat":  # built here: a flat index is a copy of the vectors, not worth storing twice
            index = faiss_index(np.ascontiguousarray(vectors), self.search_kind, self.nlist, self.hnsw_m, self.seed)
        else:
            index = faiss.deserialize_index(artifact["faiss"])
        if self.search_kind == "faiss_ivf":
            index.nprobe = self.nprobe
        elif self.search_kind == "faiss_hnsw":
            index.hnsw.efSearch = self.ef_search
        scores, ids = index.search(queries, min(k, len(vectors)))
        ranked = [[(int(i), float(s)) for i, s in zip(id_row, score_row) if i >= 0] for id_row, score_row in zip(ids, scores)]
        if self.approximate:
            self.report = self.recall_against_exact(vectors, queries, ranked, k)
        return ranked

    def recall_against_exact(self, vectors: np.ndarray, queries: np.ndarray, ranked: list[list[tuple[int, float]]], k: int) -> dict[str, Any]:
        """recall@k of the approximate top k against exact search, over the first ``recall_queries`` questions."""
        n = min(self.recall_queries, len(queries))
        exact = exact_search(vectors, queries[:n], k, self.block_mb)
        hits = sum(len({i for i, _ in a} & {i for i, _ in e}) for a, e in zip(ranked[:n], exact))
        total = sum(len(e) for e in exact)
        return {"search": self.search_kind, "approximate": True, f"recall@{k}_vs_exact": hits / total if total else None, "recall_queries": n}
