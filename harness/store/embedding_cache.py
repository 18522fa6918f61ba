"""Embeddings cached per (model, text) in columnar segment files, each vector stored once.

Layout: ``<folder>/<model hash>/<sha256>.emb``, one immutable segment per batch of encoded texts: a header
(magic, checksums, dimension, count), the texts' sha256 keys, then the vectors as one float32 array at an
aligned offset (memory-mappable; read here in runs of rows). A corpus is encoded and stored a segment at a time (``segment_texts``), so a stopped
run keeps what it embedded. Stage outputs refer to vectors by (segment, row) (``EmbeddingRows``) instead of
copying them: a dense index is a list of references.

Plain files and a per-model ``flock``, no database: safe for parallel sweep jobs and on the shared filesystem
of a cluster. Missing texts are encoded under the model's lock and looked up again once it is held, so two
jobs that ask for the same texts at once encode them once. A segment's header and keys are checked against their
sha256 when a process first opens it, its vectors when the process first uses them (so a process touches only
the segments it needs); one that is truncated or altered is logged, moved aside (``*.corrupt``) and its
vectors are recomputed, never guessed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ragsweep.store.cache import atomic_write_bytes, move_aside, unwritable
from ragsweep.errors import CacheError

log = logging.getLogger(__name__)

MAGIC = b"RSWE1\n"
# magic (6), sha256 of (dim, count and the keys) (32), sha256 of the vectors (32), dim u32, count u64, zeros
# to 128 bytes: the keys are checked when a process first maps a segment, the vectors when it first uses them.
HEADER = 128
FIELDS = struct.Struct("<IQ")
FIELDS_AT = len(MAGIC) + 64
SUFFIX = ".emb"


def text_keys(model_id: str, texts: Sequence[str]) -> np.ndarray:
    """(n, 32) uint8: sha256 of model id + NUL + text, the key a vector is stored under."""
    prefix = model_id.encode("utf-8") + b"\x00"
    out = np.empty((len(texts), 32), dtype=np.uint8)
    for i, text in enumerate(texts):
        out[i] = np.frombuffer(hashlib.sha256(prefix + text.encode("utf-8")).digest(), dtype=np.uint8)
    return out


def model_folder_name(model_id: str) -> str:
    return hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]


def encode_segment(keys: np.ndarray, vectors: np.ndarray) -> bytes:
    fields = FIELDS.pack(vectors.shape[1], len(vectors)).ljust(HEADER - FIELDS_AT, b"\x00")
    key_bytes = np.ascontiguousarray(keys, dtype=np.uint8).tobytes()
    vector_bytes = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    meta = hashlib.sha256(fields + key_bytes).digest()
    return MAGIC + meta + hashlib.sha256(vector_bytes).digest() + fields + key_bytes + vector_bytes


@dataclass
class Segment:
    """One segment file: its keys in memory, its vectors read from the file when asked for. (The vectors are
    a plain float32 array at a 4-byte aligned offset, so any reader can memory-map them; reading runs of rows
    with ``readinto`` is several times faster than first-touching a fresh mapping, page by page.)"""

    name: str
    path: Path
    keys: np.ndarray  # (n, 32) uint8
    dim: int
    vectors_sha256: bytes
    verified: bool = False  # the vectors checked against their sha256 (once per process)

    @property
    def offset(self) -> int:
        return HEADER + 32 * len(self.keys)

    def read_into(self, start: int, out: np.ndarray) -> None:
        """Rows ``start .. start + len(out)`` into ``out`` (a C-contiguous float32 block)."""
        with open(self.path, "rb") as fh:
            fh.seek(self.offset + 4 * self.dim * start)
            view = memoryview(out).cast("B")
            if fh.readinto(view) != len(view):
                raise CacheError(f"embedding segment {self.path} is shorter than its header says: delete it and run again")

    def rows(self, rows: np.ndarray) -> np.ndarray:
        block = np.empty((len(self.keys), self.dim), dtype=np.float32)
        self.read_into(0, block)
        return block[rows]

    def vectors_digest(self) -> bytes:
        h = hashlib.sha256()
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            while chunk := fh.read(1 << 24):
                h.update(chunk)
        return h.digest()


def read_segment(path: Path) -> Segment:
    """A segment whose header and keys are checked (its vectors are checked on first use: ``verify``);
    ValueError names what is wrong with a damaged one."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER)
        if len(head) < HEADER or not head.startswith(MAGIC):
            raise ValueError(f"no segment header ({len(head)} bytes)")
        dim, n = FIELDS.unpack_from(head, FIELDS_AT)
        size = os.fstat(fh.fileno()).st_size
        if size != HEADER + n * (32 + 4 * dim):
            raise ValueError(f"{size} bytes for {n} vectors of {dim}")
        key_bytes = fh.read(32 * n)
    if hashlib.sha256(head[FIELDS_AT:] + key_bytes).digest() != head[len(MAGIC) : len(MAGIC) + 32]:
        raise ValueError("checksum mismatch in its keys")
    keys = np.frombuffer(key_bytes, dtype=np.uint8).reshape(n, 32)
    return Segment(path.name, path, keys, dim, head[len(MAGIC) + 32 : FIELDS_AT])


@dataclass
class EmbeddingRows:
    """Where a list of texts' vectors live: row ``rows[i]`` of segment ``segments[seg[i]]`` of the model's
    folder. Small (12 bytes a text), so a stage output can hold it in place of the vectors."""

    model_id: str
    segments: tuple[str, ...]
    seg: np.ndarray  # int32 per text
    rows: np.ndarray  # int64 per text

    def __len__(self) -> int:
        return len(self.rows)


class ModelSegments:
    """The segments of one model that this process has opened, with a sorted index of their keys."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._reset()

    def _reset(self) -> None:
        self.segments: list[Segment] = []
        self.position: dict[str, int] = {}
        self._k64 = np.zeros(0, dtype=np.uint64)  # first 8 key bytes, sorted
        self._order = np.zeros(0, dtype=np.int64)  # index into the concatenated keys, in _k64 order
        self._keys = np.zeros((0, 32), dtype=np.uint8)
        self._seg = np.zeros(0, dtype=np.int32)
        self._row = np.zeros(0, dtype=np.int64)

    def refresh(self) -> None:
        """Open segments written since the last look (by this or another process); forget all when one has
        gone (deleted, or moved aside by another process), so this process sees what the next one will."""
        try:
            names = sorted(p.name for p in os.scandir(self.folder) if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            names = []
        if not set(self.position) <= set(names):
            self._reset()
        new = [name for name in names if name not in self.position]
        added = []
        for name in new:
            path = self.folder / name
            try:
                segment = read_segment(path)
            except FileNotFoundError:
                continue  # moved aside by another process meanwhile
            except (ValueError, OSError) as err:
                self._move_aside(path, err)
                continue
            self.position[name] = len(self.segments)
            self.segments.append(segment)
            added.append(segment)
        if added:
            self._keys = np.concatenate([self._keys] + [s.keys for s in added])
            self._seg = np.concatenate([self._seg] + [np.full(len(s.keys), self.position[s.name], np.int32) for s in added])
            self._row = np.concatenate([self._row] + [np.arange(len(s.keys), dtype=np.int64) for s in added])
            k64 = np.ascontiguousarray(self._keys).view(np.uint64)[:, 0]
            self._order = np.argsort(k64, kind="stable")
            self._k64 = k64[self._order]

    def verify(self, positions: Iterable[int]) -> bool:
        """Check the vectors of these segments (each once per process). A damaged one is moved aside and
        forgotten, and False returned: its texts are then missing, to be encoded again."""
        for pos in positions:
            segment = self.segments[int(pos)]
            if segment.verified:
                continue
            if segment.vectors_digest() != segment.vectors_sha256:
                self._move_aside(self.folder / segment.name, ValueError("checksum mismatch in its vectors"))
                self._reset()
                self.refresh()
                return False
            segment.verified = True
        return True

    @staticmethod
    def _move_aside(path: Path, err: Exception) -> None:
        aside = move_aside(path)
        if aside is not None:
            log.warning("corrupt embedding segment %s (%s): moved aside to %s, its vectors will be recomputed", path, err, aside.name)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Index into the concatenated rows for each key, -1 where absent."""
        found = np.full(len(keys), -1, dtype=np.int64)
        if len(keys) == 0 or len(self._k64) == 0:
            return found
        q64 = np.ascontiguousarray(keys).view(np.uint64)[:, 0]
        lo = np.searchsorted(self._k64, q64, side="left")
        hi = np.searchsorted(self._k64, q64, side="right")
        single = hi - lo == 1
        cand = self._order[np.minimum(lo, len(self._order) - 1)]
        exact = single & (self._keys[cand] == keys).all(axis=1)
        found[exact] = cand[exact]
        for i in np.flatnonzero(hi - lo > 1):  # same first 8 bytes: several copies of a key, or (rarely) a collision
            for j in self._order[lo[i] : hi[i]]:
                if (self._keys[j] == keys[i]).all():
                    found[i] = j
                    break
        return found

    def locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(present mask, segment index, row) per key."""
        idx = self.find(keys)
        present = idx >= 0
        safe = np.where(present, idx, 0)
        return present, self._seg[safe] if len(self._seg) else np.zeros(len(keys), np.int32), self._row[safe] if len(self._row) else np.zeros(len(keys), np.int64)


class EmbeddingCache:
    def __init__(self, folder: str | Path, segment_texts: int = 8192):
        self.folder = Path(folder)
        self.segment_texts = segment_texts
        self._models: dict[str, ModelSegments] = {}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise unwritable(self.folder, err) from None

    def _model(self, model_id: str) -> ModelSegments:
        if model_id not in self._models:
            folder = self.folder / model_folder_name(model_id)
            self._models[model_id] = ModelSegments(folder)
        return self._models[model_id]

    def rows(
        self, model_id: str, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray],
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[EmbeddingRows, int]:
        """Where the vectors of ``texts`` are, encoding (and storing, a segment at a time) only the missing
        ones; returns (rows, n_hits). ``progress(done, total)`` is called after each stored segment."""
        model = self._model(model_id)
        keys = text_keys(model_id, texts)
        model.refresh()
        present, seg, _ = model.locate(keys)
        while present.any() and not model.verify(np.unique(seg[present])):  # a damaged segment was moved aside
            present, seg, _ = model.locate(keys)
        hits = int(present.sum())
        if not present.all():
            self._encode_missing(model_id, model, keys, texts, encode, progress)
            model.refresh()
        present, seg, rows = model.locate(keys)
        if not present.all() or not model.verify(np.unique(seg)):  # damaged between writing and reading back
            raise CacheError(f"embeddings of {len(texts)} texts could not be stored soundly in {model.folder}: run again")
        used, seg = np.unique(seg, return_inverse=True)  # name only the segments these texts use
        return EmbeddingRows(model_id, tuple(model.segments[int(u)].name for u in used), seg.astype(np.int32), rows), hits

    def _encode_missing(
        self, model_id: str, model: ModelSegments, keys: np.ndarray, texts: Sequence[str],
        encode: Callable[[list[str]], np.ndarray], progress: Callable[[int, int], None] | None,
    ) -> None:
        try:
            model.folder.mkdir(parents=True, exist_ok=True)
            (model.folder / "model.txt").write_text(model_id + "\n", encoding="utf-8")
            lock = open(model.folder / "lock", "a")
        except OSError as err:
            raise unwritable(model.folder, err) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one job encodes a model's missing texts at a time
            try:
                model.refresh()  # what another job stored meanwhile
                present, _, _ = model.locate(keys)
                missing: dict[bytes, int] = {}  # key -> first position, each text once
                for i in np.flatnonzero(~present):
                    missing.setdefault(keys[i].tobytes(), int(i))
                todo = list(missing.values())
                for start in range(0, len(todo), self.segment_texts):
                    part = todo[start : start + self.segment_texts]
                    vectors = np.asarray(encode([texts[i] for i in part]), dtype=np.float32)
                    if vectors.shape[0] != len(part) or vectors.ndim != 2:
                        raise CacheError(f"embedder {model_id} returned {vectors.shape} vectors for {len(part)} texts")
                    data = encode_segment(keys[part], vectors)
                    atomic_write_bytes(model.folder / (hashlib.sha256(data).hexdigest()[:32] + SUFFIX), data)
                    if progress is not None:
                        progress(start + len(part), len(todo))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _positions(self, ref: EmbeddingRows) -> tuple[ModelSegments, list[int] | None]:
        """The model's open segments and the positions of ``ref``'s among them, vectors checked; None for the
        positions when one is gone or damaged."""
        model = self._model(ref.model_id)
        model.refresh()
        if not all(name in model.position for name in ref.segments):
            return model, None
        positions = [model.position[name] for name in ref.segments]
        return model, positions if model.verify(positions) else None

    def has(self, ref: EmbeddingRows) -> bool:
        return self._positions(ref)[1] is not None

    def vectors(self, ref: EmbeddingRows) -> np.ndarray:
        """The (n, dim) float32 matrix ``ref`` points at, read into memory (the corpus once)."""
        if len(ref) == 0:
            return np.zeros((0, 0), dtype=np.float32)
        model, positions = self._positions(ref)
        if positions is None:
            raise CacheError(f"embeddings of {ref.model_id} in {model.folder} are gone or damaged (moved aside): run again to recompute them")
        segments = [model.segments[p] for p in positions]
        dims = {segments[int(s)].dim for s in np.unique(ref.seg)}
        if len(dims) != 1:
            raise CacheError(f"embeddings of {ref.model_id} in {model.folder} have different dimensions {sorted(dims)}")
        out = np.empty((len(ref), dims.pop()), dtype=np.float32)
        # runs of consecutive rows of one segment (a corpus encoded in one go is one run a segment)
        starts = np.flatnonzero(np.concatenate([[True], (np.diff(ref.seg) != 0) | (np.diff(ref.rows) != 1)]))
        if len(starts) <= max(1, len(ref) // 16):  # long runs: one read each
            for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(ref)]):
                segments[int(ref.seg[a])].read_into(int(ref.rows[a]), out[a:b])
            return out
        for s in np.unique(ref.seg):  # scattered rows: a segment read once, its rows picked
            at = np.flatnonzero(ref.seg == s)
            out[at] = segments[int(s)].rows(ref.rows[at])
        return out

    def encode(self, model_id: str, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """Embeddings for ``texts`` in order, computing only the missing ones; returns (matrix, n_hits)."""
        ref, hits = self.rows(model_id, texts, encode)
        return self.vectors(ref), hits
