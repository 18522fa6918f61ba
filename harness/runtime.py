"""The run context: what one run's components share (its cache folder, how it shows progress, its counters for
run.json, its embedding cache), as one object the runner creates for the run and hands down.

Components are built by Hydra from YAML, plugins' included, so their constructors cannot all be given the context.
The runner makes its context the *active* one for the span of the run (``with context.active():``), and a component
reads it with ``current()``. That is a ``contextvars`` binding, scoped to the run: it ends with the run, two runs in
two threads each see their own, and nothing set by one run or test is left for the next. Work a component hands to
threads of its own reads the context first and passes it on (threads do not inherit it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from ragsweep.paths import results_root
from ragsweep.store.embedding_cache import EmbeddingCache

log = logging.getLogger("ragsweep.progress")
T = TypeVar("T")


@dataclass
class QuietSince:
    """When a job last logged a progress line (monotonic seconds): shared by its steps, set when the job starts."""

    at: float = field(default_factory=time.monotonic)


@dataclass
class RunContext:
    """One run's shared services. ``bars``: tqdm bars (a run at a terminal) or logged lines (a sweep's parallel
    jobs, whose bars would draw over each other); ``label`` names this job's progress lines ("job 3") and
    ``log_every_s`` spaces them; ``jobs`` is how many jobs of a sweep run side by side on this machine (the
    launcher's ``n_jobs``), which sizes engines that pick their own thread counts."""

    cache_dir: Path = field(default_factory=lambda: results_root() / "cache")  # outside a run: the results root's, as a run's
    bars: bool = True
    label: str = ""
    log_every_s: float = 30.0
    jobs: int = 1
    counters: Counter[str] = field(default_factory=Counter)
    embedding_caches: dict[Path, EmbeddingCache] = field(default_factory=dict)
    quiet_since: QuietSince = field(default_factory=lambda: QuietSince())

    def __post_init__(self) -> None:
        self.cache_dir, self.jobs = Path(self.cache_dir), max(1, int(self.jobs))

    @contextmanager
    def active(self) -> Iterator["RunContext"]:
        """This context is the one ``current()`` returns inside the block (and the previous one again after it)."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def cores_per_job(self) -> int:
        """This job's share of the cores it may use: all of them for a run, 1/jobs in a sweep of parallel jobs, so
        that engines that size their own thread pools (llama.cpp) do not oversubscribe the machine."""
        return max(1, len(os.sched_getaffinity(0)) // self.jobs)

    def embedding_cache(self) -> EmbeddingCache:
        path = self.cache_dir / "embeddings"
        if path not in self.embedding_caches:
            self.embedding_caches[path] = EmbeddingCache(path)
        return self.embedding_caches[path]

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def progress_bar(self, desc: str, total: int | None = None) -> Any:
        """A counter to ``update(n)`` as work is done: a tqdm bar when bars are on, else logged lines."""
        if self.bars:
            from tqdm.auto import tqdm

            return tqdm(desc=desc, total=total, leave=False)
        return LoggedProgress(desc, total, self.label, self.log_every_s, self.quiet_since)

    def progress(self, iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
        """``iterable``, counted one item at a time on a ``progress_bar``."""
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        with self.progress_bar(desc, total) as bar:
            for item in iterable:
                yield item
                bar.update(1)

    def working(self, desc: str) -> "LoggedProgress":
        """A step with no items to count (loading a model): heartbeat lines every ``log_every_s`` while it lasts, so a
        long load is never silent; use as a context manager."""
        return LoggedProgress(desc, None, self.label, self.log_every_s, self.quiet_since)


_ACTIVE: ContextVar[RunContext | None] = ContextVar("ragsweep_run_context", default=None)


def current() -> RunContext:
    """The active run's context; outside any run (a component used on its own), a fresh default one, whose counts
    go nowhere."""
    return _ACTIVE.get() or RunContext()


class LoggedProgress:
    """Progress as log lines, for where bars cannot be drawn (a sweep's parallel jobs): a line at most every
    ``log_every_s`` seconds with items done, elapsed and an estimate of what is left, and a closing line when
    any was logged. Never silent longer than ``log_every_s``: when no item finishes in that time (a batch of 8 slow
    generations, a model loading), a heartbeat thread logs the same line marked "working". Same interface as a tqdm
    bar: ``update(n)``, ``close()``, a context manager.

    ``quiet_since`` (shared by a job's steps, from its RunContext): when the job last logged a progress line. A step
    counts its silence from there, so steps each shorter than the interval, one after another (a model loading, then
    its first slow batch), are not silent together for longer (measured before: 32 s in a 30 s sweep)."""

    def __init__(self, desc: str, total: int | None, label: str = "", every: float = 30.0, quiet_since: QuietSince | None = None) -> None:
        self.desc, self.total, self.done = desc, total, 0
        self.start = time.monotonic()
        self.quiet_since = quiet_since or QuietSince(self.start)
        self.last = self.quiet_since.at
        self.logged = False
        self.prefix = f"{label}: " if label else ""
        self.every = float(every)
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        if self.every > 0:  # (0: a line at every update, nothing to fill in)
            threading.Thread(target=self._heartbeat, name=f"progress {desc}", daemon=True).start()

    def _line(self, now: float, working: bool) -> None:
        self.last, self.logged = now, True
        self.quiet_since.at = now
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

