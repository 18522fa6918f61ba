"""Keyword annotations (CoFE-RAG coarse and fine keywords) kept beside a suite in a versioned file.

Written by ``ragsweep keywords`` (an LLM pass over each query's gold evidence) and read back by
any run whose task config names it as ``keywords:``. A query whose data already carries keywords keeps
them. The file format::

    {"format": "ragsweep-keywords", "version": 1, "task": ..., "model": ..., "prompt_sha256": ...,
     "queries": {"<query_id>": {"coarse_keywords": [str], "fine_keywords": [[str]]}}}

CoFE-RAG's released data set file (``rag_dataset_en.json``: ``{"examples": [{"query", "coarse_keywords",
"fine_keywords", ...}]}``) is read as well; its examples carry no ids, so they are matched to the suite's
questions by question text (a text repeated with the same keywords is one annotation).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from ragsweep.errors import DataError
from ragsweep.types import Query
from ragsweep.data_files import read_json
from ragsweep.tasks.base import resolve_path

FORMAT = "ragsweep-keywords"
VERSION = 1


class TaskConfigParts(NamedTuple):
    """A task config split into what the task class takes and what the harness reads for any suite."""

    own: dict[str, Any]  # the task class's parameters
    keywords: Path | None  # a keyword annotation file (``keywords:``)
    qrels: Path | None  # a TREC qrels file (``qrels:``)
    headline_metric: str | None  # the metric the suite's leaderboard leads with (``headline_metric:``), else the class's

    def annotation_files(self) -> list[Path]:
        return [f for f in (self.keywords, self.qrels) if f]


def split_task_config(task_cfg: dict[str, Any]) -> TaskConfigParts:
    """``keywords``, ``qrels`` and ``headline_metric`` are read by the harness, not by the task class, so any
    suite can carry them."""
    own = dict(task_cfg)
    keywords, qrels, headline = own.pop("keywords", None), own.pop("qrels", None), own.pop("headline_metric", None)
    return TaskConfigParts(own, resolve_path(keywords) if keywords else None, resolve_path(qrels) if qrels else None,
                           str(headline) if headline else None)


def _strings(value: Any, path: Path, qid: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(path, "expected a list of strings", record=qid, field=field)
    return tuple(value)


Keywords = tuple[tuple[str, ...], tuple[tuple[str, ...], ...], bool]


def _entry(entry: Any, path: Path, record: str) -> Keywords:
    """(coarse, fine groups, whether the fine keywords were a flat list of strings)."""
    if not isinstance(entry, dict):
        raise DataError(path, "expected an object", record=record)
    coarse = _strings(entry.get("coarse_keywords"), path, record, "coarse_keywords")
    fine_raw = entry.get("fine_keywords")
    if not isinstance(fine_raw, list):
        raise DataError(path, "expected a list of keyword groups", record=record, field="fine_keywords")
    fine = tuple(_strings(g if isinstance(g, list) else [g], path, record, "fine_keywords") for g in fine_raw)
    return coarse, fine, bool(fine_raw) and all(isinstance(g, str) for g in fine_raw)


def cofe_rag_examples(path: Path, data: dict[str, Any]) -> list[tuple[str, Keywords]]:
    """(question text, keywords) per example of CoFE-RAG's data set file, in file order. The released English file
    repeats two question texts (examples 411 and 918, 653 and 836): examples are kept by position, never merged."""
    examples = data["examples"]
    if not isinstance(examples, list):
        raise DataError(path, f"expected a list, got {type(examples).__name__}", field="examples")
    out: list[tuple[str, Keywords]] = []
    for i, ex in enumerate(examples):
        record = f"examples[{i}]"
        query = ex.get("query") if isinstance(ex, dict) else None
        if not isinstance(query, str) or not query.strip():
            raise DataError(path, "missing or not a string", record=record, field="query")
        out.append((query, _entry(ex, path, record)))
    return out


def by_question(path: Path, examples: list[tuple[str, Keywords]]) -> dict[str, Keywords]:
    """question text -> keywords, for matching a data set file to another suite's questions by text. A text that
    appears twice with the same keywords is one annotation; with different keywords the match is ambiguous."""
    out: dict[str, Keywords] = {}
    first: dict[str, int] = {}
    for i, (query, keywords) in enumerate(examples):
        if query in out and out[query] != keywords:
            raise DataError(path, f"the same query text as examples[{first[query]}] with other keywords: a question matched by text would be ambiguous",
                            record=f"examples[{i}]", field="query")
        out.setdefault(query, keywords)
        first.setdefault(query, i)
    return out


def repeated_texts(examples: list[tuple[str, Keywords]]) -> int:
    """How many examples repeat an earlier example's question text."""
    return len(examples) - len({query for query, _ in examples})


def read_keywords(path: Path) -> tuple[dict[str, Keywords], bool]:
    """(annotations, whether they are keyed by question text rather than query id)."""
    data = read_json(path)
    if isinstance(data, dict) and "examples" in data and "format" not in data:
        return by_question(path, cofe_rag_examples(path, data)), True
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(path, f"not a keyword annotation file (expected \"format\": \"{FORMAT}\", or CoFE-RAG's {{\"examples\": [...]}})")
    if data.get("version") != VERSION:
        raise DataError(path, f"keyword file version {data.get('version')!r}; this harness reads version {VERSION}", field="version")
    return {str(qid): _entry(entry, path, str(qid)) for qid, entry in (data.get("queries") or {}).items()}, False


def apply_keywords(queries: list[Query], path: Path, limited: bool = False) -> list[Query]:
    """The file's keywords on the suite's questions; an annotated question the suite does not have is an error,
    unless the suite was cut by ``task.limit`` (``limited``)."""
    annotations, by_question = read_keywords(path)
    key = (lambda q: q.question) if by_question else (lambda q: q.query_id)  # noqa: E731
    known = {key(q) for q in queries}
    stray = sorted(set(annotations) - known)
    if stray and not limited:
        what = "annotated questions (matched by text)" if by_question else "annotated queries"
        raise DataError(path, f"{len(stray)} {what} are not in the suite", record=stray[0])
    out = []
    for q in queries:
        if key(q) in annotations and not (q.keywords_coarse or q.keywords_fine):
            coarse, fine, flat = annotations[key(q)]
            q = replace(q, keywords_coarse=coarse, keywords_fine=fine, metadata={**q.metadata, **({"keywords_flat": True} if flat else {})})
        out.append(q)
    return out
