"""Cross-encoder reranking with sentence-transformers' CrossEncoder.

The default model (cross-encoder/ms-marco-MiniLM-L6-v2) comes from the Hugging Face hub: no PyPI
package bundles a cross-encoder's weights, so offline runs fail at resolve() with a message saying so.
"""

from __future__ import annotations

import functools
import logging
from typing import Sequence

import numpy as np

from ragsweep.models.weights import resolve
from ragsweep.registry import RERANKERS
from ragsweep.rerankers.base import Reranker
from ragsweep.retrievers.base import top_k
from ragsweep.types import Chunk

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=2)
def load_cross_encoder(model_id: str, max_length: int, device: str | None):
    from sentence_transformers import CrossEncoder

    resolved = resolve(model_id)
    log.info("loading cross-encoder %s from %s (%s)", model_id, resolved.path, resolved.source)
    return CrossEncoder(resolved.path, max_length=max_length, device=device)


@RERANKERS.register("cross_encoder")
class CrossEncoderReranker(Reranker):
    label_params = ("model",)

    def __init__(
        self,
        model: str = "cross-encoder/ms-marco-MiniLM-L6-v2",
        max_length: int = 512,
        batch_size: int = 32,
        device: str | None = None,
    ):
        self.model, self.max_length, self.batch_size, self.device = model, max_length, batch_size, device

    def rerank(self, question: str, candidates: Sequence[Chunk]) -> list[tuple[int, float]]:
        if not candidates:
            return []
        encoder = load_cross_encoder(self.model, self.max_length, self.device)
        scores = encoder.predict(
            [(question, c.text) for c in candidates], batch_size=self.batch_size, show_progress_bar=False
        )
        return top_k(np.asarray(scores, dtype=np.float64).ravel(), len(candidates))
