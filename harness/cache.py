"""Content-addressed stage cache.

A stage's key is sha256 over canonical JSON of: the stage name, its per-stage code version, the
component's resolved config, the upstream stage's key and any input data hashes. Values are written
to a temp file in the same folder and renamed into place, so readers never see half a file and two
sweep jobs writing the same entry cannot corrupt it. A per-key lock file makes the second job wait
for the first instead of recomputing.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import os
import pickle
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from harness.hashing import canonical_json, sha256_json

log = logging.getLogger(__name__)


def stage_key(stage: str, code_version: str, config: Any, upstream: str | None, data: Any = None) -> str:
    return sha256_json(
        {"stage": stage, "code_version": code_version, "config": config, "upstream": upstream, "data": data}
    )


@dataclass(frozen=True)
class Codec:
    suffix: str
    dump: Callable[[Any], bytes]
    load: Callable[[bytes], Any]


JSON = Codec(
    ".json.gz",
    lambda obj: gzip.compress(canonical_json(obj).encode("utf-8"), mtime=0),
    lambda raw: json.loads(gzip.decompress(raw)),
)
# Index artifacts (BM25 matrices, embedding arrays) are local, trusted and not meant to be read by people.
PICKLE = Codec(".pkl", lambda obj: pickle.dumps(obj, protocol=5), pickle.loads)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class StageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, stage: str, key: str, codec: Codec) -> Path:
        return self.root / stage / key[:2] / f"{key}{codec.suffix}"

    @contextmanager
    def _lock(self, stage: str, key: str) -> Iterator[None]:
        lock_path = self.root / stage / key[:2] / f"{key}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get_or_compute(
        self, stage: str, key: str, compute: Callable[[], Any], codec: Codec = JSON
    ) -> tuple[Any, bool]:
        """Return ``(value, hit)``; compute and store the value when the key is new."""
        path = self.path(stage, key, codec)
        if path.exists():
            return codec.load(path.read_bytes()), True
        with self._lock(stage, key):
            if path.exists():  # another job finished it while we waited for the lock
                return codec.load(path.read_bytes()), True
            value = compute()
            atomic_write_bytes(path, codec.dump(value))
            log.debug("cached %s %s", stage, key[:12])
            return value, False

    def contains(self, stage: str, key: str, codec: Codec = JSON) -> bool:
        return self.path(stage, key, codec).exists()
