"""Per-process services that components share: cache locations and counters for run.json.

The runner calls ``configure`` once per run; components ask for the embedding cache here instead of
having it threaded through every constructor.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, TypeVar

from ragsweep.store.embedding_cache import EmbeddingCache

_state: dict[str, object] = {"cache_dir": Path("results/cache"), "progress": True}
_counters: Counter[str] = Counter()
T = TypeVar("T")
_embedding_caches: dict[Path, EmbeddingCache] = {}


def configure(cache_dir: str | Path, progress: bool = True) -> None:
    _state["cache_dir"] = Path(cache_dir)
    _state["progress"] = progress
    _counters.clear()


def show_progress() -> bool:
    """Whether components draw progress bars: the run's ``progress`` (off in sweeps, whose parallel jobs
    would draw over each other on one terminal; a sweep logs its own progress instead)."""
    return bool(_state["progress"])


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not show_progress(), leave=False)


def cache_dir() -> Path:
    return Path(_state["cache_dir"])  # type: ignore[arg-type]


def embedding_cache() -> EmbeddingCache:
    path = cache_dir() / "embeddings"
    if path not in _embedding_caches:
        _embedding_caches[path] = EmbeddingCache(path)
    return _embedding_caches[path]


def count(name: str, n: int = 1) -> None:
    _counters[name] += n


def counters() -> dict[str, int]:
    return dict(_counters)
