"""Content-addressed stage cache.

A stage's key is sha256 over canonical JSON of: the stage name, its per-stage code version, the
component's resolved config, the upstream stage's key and any input data hashes. Values are written
to a temp file in the same folder and renamed into place, so readers never see half a file and two
sweep jobs writing the same entry cannot corrupt it. A per-key lock file makes the second job wait
for the first instead of recomputing.

Integrity, not just atomicity: every entry starts with a magic tag and the sha256 of its payload. An
entry that is truncated, empty, bit-flipped or does not decode is logged, moved aside (``*.corrupt``) and
recomputed. A value that is not final (a stage output holding failed LLM calls) is served to a ``retry``
function that redoes only what failed. Files get the process umask's permissions, so a cache can be
shared between users; a cache that cannot be written stops the run with one line naming the folder.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import logging
import os
import pickle
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ragsweep.errors import CacheError, WriteError
from ragsweep.hashing import canonical_json, sha256_json

log = logging.getLogger(__name__)

MAGIC = b"RSWC1\n"  # then 32 bytes of sha256(payload), then the payload
FORMAT = 2  # in every key: entries of an older file format are never read, so never mistaken for corrupt ones


def stage_key(stage: str, code_version: str, config: Any, upstream: str | None, data: Any = None) -> str:
    return sha256_json(
        {"format": FORMAT, "stage": stage, "code_version": code_version, "config": config, "upstream": upstream, "data": data}
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


def _dump_columns(obj: dict[str, Any]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts: dict[str, tuple[str, bytes]] = {}
    for key, value in obj.items():
        if isinstance(value, pa.Table):
            sink = pa.BufferOutputStream()
            pq.write_table(value, sink, compression="zstd")
            parts[key] = ("parquet", sink.getvalue().to_pybytes())
        else:
            parts[key] = ("json", canonical_json(value).encode("utf-8"))
    return pickle.dumps(parts, protocol=5)


def _load_columns(raw: bytes) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return {key: pq.read_table(pa.BufferReader(data)) if kind == "parquet" else json.loads(data) for key, (kind, data) in pickle.loads(raw).items()}


# Stage values whose big parts are tables (documents, chunks): each table as parquet, the rest as JSON.
COLUMNS = Codec(".cols.pkl", _dump_columns, _load_columns)


def current_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


CACHE_ADVICE = "point cache_dir (or RAGSWEEP_CACHE) at a writable folder"


def unwritable(folder: Path, err: OSError, advice: str | None = None) -> WriteError:
    """The one line for a folder that cannot be written (read-only, full): a CacheError for the stage cache and
    embedding store (the default advice), a WriteError with the caller's advice for results and reports."""
    message = f"cannot write to {folder} ({err.strerror or err}): {advice or CACHE_ADVICE}"
    return CacheError(message) if advice is None else WriteError(message)


def atomic_write_bytes(path: Path, data: bytes, advice: str | None = None) -> None:
    """Write via a temp file and rename; the file gets the permissions the umask gives (not mkstemp's 0600).
    A folder that cannot be written, or a disk that fills, is one line (``unwritable``) and leaves no temp file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise unwritable(path.parent, err, advice) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise unwritable(path.parent, err, advice) from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_checked(path: Path, payload: bytes) -> None:
    atomic_write_bytes(path, MAGIC + hashlib.sha256(payload).digest() + payload)


def read_checked(path: Path, load: Callable[[bytes], Any]) -> tuple[bool, Any]:
    """``(True, value)`` for a sound entry; ``(False, None)`` when it is missing or was corrupt (then it is
    moved aside and logged, and the caller recomputes)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False, None
    head = len(MAGIC) + 32
    try:
        if len(raw) < head or not raw.startswith(MAGIC):
            raise ValueError(f"no checksum header ({len(raw)} bytes)")
        if hashlib.sha256(raw[head:]).digest() != raw[len(MAGIC) : head]:
            raise ValueError("checksum mismatch")
        return True, load(raw[head:])
    except Exception as err:  # any decode failure of a cache file means the same thing: recompute
        aside = move_aside(path)
        if aside is not None:
            log.warning("corrupt cache entry %s (%s): moved aside to %s, recomputing", path, err, aside.name)
        return False, None


def move_aside(path: Path) -> Path | None:
    """Rename a damaged cache file to ``*.corrupt`` (kept for inspection, never read again); None when it is
    already gone (another process moved it first)."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise unwritable(path.parent, err) from None
    return aside


class StageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, stage: str, key: str, codec: Codec) -> Path:
        return self.root / stage / key[:2] / f"{key}{codec.suffix}"

    @contextmanager
    def _lock(self, stage: str, key: str) -> Iterator[None]:
        lock_path = self.root / stage / key[:2] / f"{key}.lock"
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock_path, "a")
        except OSError as err:
            raise unwritable(lock_path.parent, err) from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get_or_compute(
        self,
        stage: str,
        key: str,
        compute: Callable[[], Any],
        codec: Codec = JSON,
        final: Callable[[Any], bool] | None = None,
        retry: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, bool]:
        """Return ``(value, hit)``; compute and store the value when the key is new or its entry was corrupt.
        A cached value for which ``final`` is false (it holds failed LLM calls) goes to ``retry(old)``, whose
        result is stored; such a run counts as computed, not as a hit."""
        path = self.path(stage, key, codec)
        done = final or (lambda _: True)
        ok, value = read_checked(path, codec.load)
        if ok and done(value):
            return value, True
        with self._lock(stage, key):
            ok, value = read_checked(path, codec.load)  # another job may have finished it while we waited
            if ok and done(value):
                return value, True
            value = retry(value) if ok and retry is not None else compute()
            write_checked(path, codec.dump(value))
            log.debug("cached %s %s", stage, key[:12])
            return value, False

    def contains(self, stage: str, key: str, codec: Codec = JSON) -> bool:
        return self.path(stage, key, codec).exists()
