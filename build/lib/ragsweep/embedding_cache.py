"""Embeddings cached per (model, text), so chunkers that share chunks never embed a text twice.

SQLite in WAL mode lets parallel sweep jobs read and write the same cache file safely. Texts missing
from the cache are encoded under a per-model file lock, and looked up again once the lock is held, so
two jobs that ask for the same texts at the same time encode them once. A database file that SQLite
cannot read is logged, moved aside and started afresh (the embeddings are recomputed, never guessed).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ragsweep.errors import CacheError
from ragsweep.hashing import sha256_text

log = logging.getLogger(__name__)


class EmbeddingCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) and not self._is_corrupt(err):
                raise CacheError(f"cannot open the embedding cache {self.path} ({err}): point cache_dir at a writable folder") from None
            self._move_aside(err)
            self._open()
        except OSError as err:
            raise CacheError(f"cannot write to {self.path.parent} ({err.strerror or err}): point cache_dir at a writable folder") from None

    @staticmethod
    def _is_corrupt(err: sqlite3.DatabaseError) -> bool:
        text = str(err).lower()
        return "not a database" in text or "malformed" in text or "corrupt" in text

    def _open(self) -> None:
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
            con.execute("SELECT count(*) FROM emb").fetchone()

    def _move_aside(self, err: Exception) -> None:
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                os.replace(part, Path(str(part) + ".corrupt"))
        log.warning("corrupt embedding cache %s (%s): moved aside, embeddings will be recomputed", self.path, err)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed (sqlite3's own context manager
        only commits)."""
        con = sqlite3.connect(self.path, timeout=120)
        try:
            with con:
                yield con
        finally:
            con.close()

    @staticmethod
    def key(model_id: str, text: str) -> str:
        return sha256_text(model_id + "\x00" + text)

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as con:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                batch = unique[i : i + 500]
                marks = ",".join("?" * len(batch))
                for k, dim, blob in con.execute(f"SELECT key, dim, vec FROM emb WHERE key IN ({marks})", batch):
                    if len(blob) != 4 * dim:  # a torn row is not a vector: recompute it
                        continue
                    found[k] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return found

    def encode(
        self, model_id: str, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """Embeddings for ``texts`` in order, computing only the missing ones; returns (matrix, n_hits)."""
        keys = [self.key(model_id, t) for t in texts]
        found = self._lookup(keys)
        hits = sum(1 for k in keys if k in found)
        if len(found) < len(set(keys)):
            lock_path = self.path.with_name(f"{self.path.name}.{sha256_text(model_id)[:16]}.lock")
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one job encodes a model's missing texts at a time
                try:
                    found.update(self._lookup([k for k in keys if k not in found]))  # what another job added meanwhile
                    missing = list(dict.fromkeys(k for k in keys if k not in found))
                    if missing:
                        text_of = dict(zip(keys, texts))
                        vectors = np.asarray(encode([text_of[k] for k in missing]), dtype=np.float32)
                        with self._connect() as con:
                            con.executemany(
                                "INSERT OR REPLACE INTO emb (key, dim, vec) VALUES (?, ?, ?)",
                                [(k, v.shape[0], v.tobytes()) for k, v in zip(missing, vectors)],
                            )
                        found.update(zip(missing, vectors))
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.stack([found[k] for k in keys]), hits
