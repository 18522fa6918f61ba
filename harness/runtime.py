"""Per-process services that components share: cache locations and counters for run.json.

The runner calls ``configure`` once per run; components ask for the embedding cache here instead of
having it threaded through every constructor.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from ragsweep.store.embedding_cache import EmbeddingCache

log = logging.getLogger("ragsweep.progress")
_state: dict[str, object] = {"cache_dir": Path("results/cache"), "progress": True, "label": "", "log_every_s": 30.0, "jobs": 1}
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


def set_progress_label(label: str, log_every_s: float = 30.0) -> None:
    """Name this process's progress lines (a sweep job: "job 3") and how often they are logged; a sweep's jobs
    log their lines in turn on one terminal, so each line says whose it is."""
    _state["label"], _state["log_every_s"] = label, log_every_s


def set_parallel_jobs(jobs: int) -> None:
    """How many jobs of a sweep run side by side on this machine (the launcher's ``n_jobs``)."""
    _state["jobs"] = max(1, int(jobs))


def cores_per_job() -> int:
    """This process's share of the cores it may use: all of them for a run, 1/n_jobs in a sweep of n parallel jobs,
    so that engines that size their own thread pools (llama.cpp) do not oversubscribe the machine."""
    return max(1, len(os.sched_getaffinity(0)) // int(_state["jobs"]))  # type: ignore[call-overload]


class LoggedProgress:
    """Progress as log lines, for where bars cannot be drawn (a sweep's parallel jobs): a line at most every
    ``log_every_s`` seconds with items done, elapsed and an estimate of what is left, and a closing line when
    any was logged. Never silent longer than ``log_every_s``: when no item finishes in that time (a batch of 8 slow
    generations, a model loading), a heartbeat thread logs the same line marked "working". Same interface as a tqdm
    bar: ``update(n)``, ``close()``, a context manager."""

    def __init__(self, desc: str, total: int | None) -> None:
        self.desc, self.total, self.done = desc, total, 0
        self.start = self.last = time.monotonic()
        self.logged = False
        label = str(_state["label"])
        self.prefix = f"{label}: " if label else ""
        self.every = float(_state["log_every_s"])  # type: ignore[arg-type]
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        if self.every > 0:  # (0: a line at every update, nothing to fill in)
            threading.Thread(target=self._heartbeat, name=f"progress {desc}", daemon=True).start()

    def _line(self, now: float, working: bool) -> None:
        self.last, self.logged = now, True
        elapsed, state = now - self.start, " (working)" if working else ""
        if self.total:
            left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            estimate = f"about {left:.0f} s left" if self.done else "no estimate yet"
            rate = f", {self.done / elapsed:.2f}/s" if self.done and elapsed > 0 else ""
            log.info("%s%s: %d of %d (%.0f%%), %.0f s%s, %s%s", self.prefix, self.desc, self.done, self.total,
                     100 * self.done / self.total, elapsed, rate, estimate, state)
        else:
            log.info("%s%s: %d done, %.0f s%s", self.prefix, self.desc, self.done, elapsed, state)

    def _heartbeat(self) -> None:
        while not self.stopped.wait(min(self.every, max(self.every - (time.monotonic() - self.last), 0.01))):
            with self.lock:
                now = time.monotonic()
                if now - self.last >= self.every and not self.stopped.is_set():
                    self._line(now, True)

    def update(self, n: int = 1) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if now - self.last >= self.every:
                self._line(now, False)

    def close(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        with self.lock:
            if self.logged:
                log.info("%s%s: %d done in %.0f s", self.prefix, self.desc, self.done, time.monotonic() - self.start)

    def __enter__(self) -> "LoggedProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def working(desc: str) -> LoggedProgress:
    """A step with no items to count (loading a model): heartbeat lines every ``log_every_s`` while it lasts, so a
    long load is never silent; use as a context manager."""
    return LoggedProgress(desc, None)


def progress_bar(desc: str, total: int | None = None) -> Any:
    """A counter to ``update(n)`` as work is done: a tqdm bar when bars are on, else logged lines."""
    if show_progress():
        from tqdm.auto import tqdm

        return tqdm(desc=desc, total=total, leave=False)
    return LoggedProgress(desc, total)


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """``iterable``, counted one item at a time on a ``progress_bar``."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with progress_bar(desc, total) as bar:
        for item in iterable:
            yield item
            bar.update(1)


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
