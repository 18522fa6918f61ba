"""Embeddings cached per (model, text), so chunkers that share chunks never embed a text twice.

SQLite in WAL mode lets parallel sweep jobs read and write the same cache file safely.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harness.hashing import sha256_text


class EmbeddingCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=120)

    @staticmethod
    def key(model_id: str, text: str) -> str:
        return sha256_text(model_id + "\x00" + text)

    def encode(
        self, model_id: str, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """Embeddings for ``texts`` in order, computing only the missing ones; returns (matrix, n_hits)."""
        keys = [self.key(model_id, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._connect() as con:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                batch = unique[i : i + 500]
                marks = ",".join("?" * len(batch))
                for k, dim, blob in con.execute(f"SELECT key, dim, vec FROM emb WHERE key IN ({marks})", batch):
                    found[k] = np.frombuffer(blob, dtype=np.float32, count=dim)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        hits = len(keys) - sum(1 for k in keys if k not in found)
        if missing:
            text_of = dict(zip(keys, texts))
            vectors = np.asarray(encode([text_of[k] for k in missing]), dtype=np.float32)
            with self._connect() as con:
                con.executemany(
                    "INSERT OR IGNORE INTO emb (key, dim, vec) VALUES (?, ?, ?)",
                    [(k, v.shape[0], v.tobytes()) for k, v in zip(missing, vectors)],
                )
            found.update(zip(missing, vectors))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.stack([found[k] for k in keys]), hits
