"""The metric contract: a family of per-query record columns, registered by name (``@METRICS.register``) or
named by import path in a scoring config, as every other component is.

A family reads one query's view (its ranking, the generator's answer, the judge's verdicts and the gold) and
returns its record columns; a column it cannot compute for a query (no gold of its kind) it leaves out, and
the query is then counted as unscored for it, never as a miss. It declares what the leaderboard and the gate
need: which of its columns are headline metrics, which are better lower, which numbers are not metrics.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from ragsweep.types import Chunk, Generation, Query

if TYPE_CHECKING:
    from ragsweep.types import PipelineResult

PHASES = ("retrieval", "answer")


@dataclass(frozen=True)
class QueryView:
    """What a metric may read of one query."""

    query: Query
    ranked: list[Chunk]  # the final ranking (the reranker's, where there is one)
    retrieved: list[Chunk]  # the retriever's ranking
    reranked: bool
    gold_doc_chunks: list[Chunk]  # every chunk of the documents that hold a gold span (Precision-Omega's pool)
    by_id: dict[str, Chunk]
    doc_sections: dict[str, list[list[Any]]]  # document -> [section number, start, end] (NitiBench suites)
    generation: Generation | None
    judgement: dict[str, Any] | None
    language: str
    invalid_policy: str  # the judge's: "exclude" (an unreadable verdict is left out) or "zero"
    assessment: dict[str, Any] | None = None  # the assessor's labels and nuggets (assessor=llm)
    selected: list[Chunk] | None = None  # a selector's context for the generator (selector != none), in given order


class Metric(ABC):
    """One family of metric columns. ``phase``: "retrieval" families read the ranking and their columns come
    before the answer's in a record; "answer" families read the generation or the verdicts and come after."""

    phase: ClassVar[str] = "retrieval"
    needs: ClassVar[str] = ""  # the gold it reads, as `ragsweep list` says it
    info_columns: ClassVar[tuple[str, ...]] = ()  # numbers it records that are not metrics (never averaged)
    bracketed: ClassVar[bool] = False  # its columns read only the answer and the gold: also scored for each bracket
    label_params: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def columns(self, view: QueryView) -> dict[str, Any]:
        """This query's columns (floats are metrics, averaged over the queries that have them)."""

    def headline(self) -> list[str]:
        """Columns the leaderboard shows and the gate tracks by default."""
        return []

    def lower_is_better(self) -> list[str]:
        """Columns where a lower value is the better one."""
        return []

    def declared_columns(self) -> list[str] | None:
        """Every metric column this family can write, where it is known before a run (``task.headline_metric`` is
        checked against them before any work); None when it is not (then the check waits for the run's columns)."""
        return None

    def summary(self, records: Sequence[dict[str, Any]], result: PipelineResult) -> dict[str, Any]:
        """Run-level numbers for metrics.json ``summary`` (counts, micro averages)."""
        return {}
