"""Sentence-transformers encoders, loaded once per process and backed by the (model, text) cache."""

from __future__ import annotations

import functools
import logging
from typing import Sequence

import numpy as np

from harness import runtime
from harness.models import resolve

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def load_sentence_transformer(model_id: str, device: str | None = None):
    from sentence_transformers import SentenceTransformer

    resolved = resolve(model_id)
    log.info("loading embedder %s from %s (%s)", model_id, resolved.path, resolved.source)
    return SentenceTransformer(resolved.path, device=device)


def embed(model_id: str, texts: Sequence[str], batch_size: int = 64, device: str | None = None) -> np.ndarray:
    """Unit-normalised embeddings, computed only for texts the cache has not seen with this model."""

    def encode(batch: list[str]) -> np.ndarray:
        model = load_sentence_transformer(model_id, device)
        return model.encode(
            batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=len(batch) > 4 * batch_size,
        )

    vectors, hits = runtime.embedding_cache().encode(model_id, list(texts), encode)
    runtime.count("embedding_cache_hits", hits)
    runtime.count("embedding_cache_misses", len(texts) - hits)
    return vectors
