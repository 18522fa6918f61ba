"""What each role of component must provide, one Protocol per registry: the methods and attributes the engine calls
on it. A registry checks a class against its role when the class is registered (and when a config names a class
by import path), so a component missing a method is one line naming the family, the class and what it lacks,
before any work, not an AttributeError in the middle of a stage. The families' base classes (Chunker, Retriever,
Reranker, Selector, Generator, Task, Metric, ChatBackend) implement these; judges, assessors and trackers are checked as they are.

Optional capabilities, read with a default where they are used, are not part of a role: ``version`` (bumped when
a component's output changes), ``code_modules`` (more modules in its code identity), ``label_params`` (parameters
shown in its label) and a retriever's ``report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from ragsweep.errors import ConfigError
from ragsweep.types import Chunk, Document, Generation, LLMCalls, PipelineResult, Query, Retrieved


class TaskRole(Protocol):
    language: str
    breakdown_keys: tuple[str, ...]
    headline_metric: str | None

    def data_files(self) -> list[Path]: ...
    def checked_load(self) -> tuple[list[Document], list[Query]]: ...
    def describe(self) -> dict[str, Any]: ...


class ChunkerRole(Protocol):
    def chunk(self, docs: Iterable[Document], progress: bool = True) -> list[Chunk]: ...


class RetrieverRole(Protocol):
    def index(self, chunks: Sequence[Chunk]) -> Any: ...
    def search(self, artifact: Any, questions: Sequence[str], k: int) -> list[list[tuple[int, float]]]: ...
    def search_identity(self) -> dict[str, Any]: ...
    def usable(self, artifact: Any) -> bool: ...


class RerankerRole(Protocol):
    def rerank(self, question: str, candidates: Sequence[Chunk]) -> list[tuple[int, float]]: ...


class SelectorRole(Protocol):
    def select(self, question: str, ranked: Sequence[Chunk], scores: Sequence[float]) -> list[int]: ...


class GeneratorRole(Protocol):
    context_k: int

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]: ...
    def planned_calls(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> LLMCalls | None: ...


class JudgeRole(Protocol):
    lower_is_better: list[str]  # judged columns where lower is better
    headline_columns: list[str]  # judged columns the report shows and the gate tracks
    column_judges: dict[str, dict[str, Any]]  # judged column -> its judge (id, rubric, models)

    def judge(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> list[dict[str, Any]]: ...
    def planned_calls(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> list[LLMCalls] | None: ...


class AssessorRole(Protocol):
    def judges(self) -> dict[str, dict[str, Any]]: ...
    def assess(self, store: Any, queries: Sequence[Query], documents: Sequence[Document], chunks: Sequence[Chunk],
               ranked: Sequence[Retrieved], generations: Sequence[Generation]) -> tuple[list[dict[str, Any]], dict[str, Any]]: ...
    def planned_calls(self, store: Any, queries: Sequence[Query], documents: Sequence[Document], chunks: Sequence[Chunk],
                      ranked: Sequence[Retrieved], generations: Sequence[Generation]) -> list[LLMCalls] | None: ...


class MetricRole(Protocol):
    def columns(self, view: Any) -> dict[str, Any]: ...
    def headline(self) -> list[str]: ...
    def lower_is_better(self) -> list[str]: ...
    def declared_columns(self) -> list[str] | None: ...
    def summary(self, records: Sequence[dict[str, Any]], result: PipelineResult) -> dict[str, Any]: ...


class BackendRole(Protocol):
    def complete(self, conversations: Sequence[Any], json_schema: dict[str, Any] | None = None, desc: str = "llm",
                 max_tokens: int | None = None) -> list[Any]: ...
    def count_tokens(self, text: str) -> int: ...
    def cut_tokens(self, text: str, n: int) -> str | None: ...


class TrackerRole(Protocol):
    def start_sweep(self, sweep_name: str, sweep_dir: Path) -> None: ...
    def log_run(self, run_dir: Path, sweep_dir: Path | None) -> None: ...
    def end_sweep(self, sweep_dir: Path, ok: bool, report: Path | None) -> None: ...


def role_members(role: type) -> tuple[list[str], list[str]]:
    """(methods, attributes) a role declares, in declaration order."""
    methods = [n for n, v in vars(role).items() if callable(v) and not n.startswith("_")]
    attributes = [n for n in getattr(role, "__annotations__", {}) if not n.startswith("_")]
    return methods, attributes


def check_role(family: str, name: str, cls: type, role: type) -> None:
    """``cls`` provides every method of ``role`` as a callable and every attribute (a class attribute, a property,
    or one declared in the class body of it or a base, ``context_k: int``, and set by its constructor); else one
    ConfigError listing what it lacks."""
    methods, attributes = role_members(role)
    declared = {a for klass in cls.__mro__ for a in getattr(klass, "__annotations__", {})}
    lacking = [f"{m}()" for m in methods if not callable(getattr(cls, m, None))]
    lacking += [a for a in attributes if not hasattr(cls, a) and a not in declared]
    if lacking:
        raise ConfigError(f"{family} {name!r} ({cls.__module__}.{cls.__qualname__}) lacks {', '.join(lacking)}: "
                          f"a {family} provides {', '.join([*(m + '()' for m in methods), *attributes])}")
