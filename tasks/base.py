"""The Task contract every suite implements, the checks every loaded suite passes, and task building (with
``task.limit`` applied once, here). Suites read their files through ragsweep.data_files."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Sequence

from ragsweep.data_files import MAX_METADATA_DEPTH, RecordErrors, nesting_depth
from ragsweep.errors import ConfigError, DataError, did_you_mean
from ragsweep.types import Document, Query

BUNDLED_DATA = Path(__file__).resolve().parent / "data"


def resolve_path(path: str | Path) -> Path:
    """``bundled:<name>`` is a suite shipped in tasks/data; anything else is a filesystem path."""
    text = str(path)
    if text.startswith("bundled:"):
        return BUNDLED_DATA / text.removeprefix("bundled:")
    return Path(text).expanduser()


def corpus_id_hint(doc_id: str, known: dict[str, int]) -> str:
    """``: did you mean 'kettle.txt'?`` where a corpus id differs from ``doc_id`` by a file extension (a folder
    corpus's ids are its file names, extension included), else the closest id."""
    with_suffix = sorted(k for k in known if k.rsplit(".", 1)[0] == doc_id)
    if with_suffix:
        return f": did you mean {with_suffix[0]!r}? (a folder corpus's document ids are its file names, extension included)"
    close = did_you_mean(doc_id, list(known)) if len(known) <= 100_000 else ""
    return f": {close.strip()}" if close else ""


def check_suite(source: str, documents: Sequence[Document], queries: Sequence[Query], corpus: str | None = None) -> None:
    """What every loaded suite must satisfy, whatever its format: questions exist, ids are unique,
    questions are not blank, metadata is not absurdly deep, and every gold span is non-empty and lies inside
    a known document (past its end only where the loader kept such spans on purpose: metadata
    ``past_end_references``, Chroma's ``on_invalid_reference=reference``). Corpus faults name ``corpus`` (the corpus file or folder), question faults ``source``;
    questions are numbered from 1 in load order."""
    if not queries:
        raise DataError(source, "the suite has no questions")
    if not documents:
        raise DataError(corpus or source, "the suite has no documents: give it a corpus (see the task's corpus / path settings)")
    doc_errors = RecordErrors(corpus or source)
    doc_len: dict[str, int] = {}
    for d in documents:
        if d.doc_id in doc_len:
            doc_errors.add("document id appears twice in the corpus (one text would replace the other)", record=f"document {d.doc_id!r}")
        doc_len[d.doc_id] = len(d.text)
    doc_errors.raise_if_any()
    bad = RecordErrors(source)
    seen: set[str] = set()
    for i, q in enumerate(queries, start=1):
        record = f"{i} (id {q.query_id})"
        depth = nesting_depth(q.metadata)
        if depth > MAX_METADATA_DEPTH:
            bad.add(f"nested {depth} levels deep (at most {MAX_METADATA_DEPTH})", record=record, field="metadata")
        if q.query_id in seen:
            bad.add("question id appears twice (the later row would overwrite the earlier one's results)", record=record, field="id")
        seen.add(q.query_id)
        if not q.question.strip():
            bad.add("question is empty or whitespace only", record=record, field="question")
        for j, doc_id in enumerate(q.gold_doc_ids):
            if doc_id not in doc_len:
                bad.add(f"gold document {doc_id!r} is not in the corpus (it could never be retrieved){corpus_id_hint(doc_id, doc_len)}",
                        record=record, field=f"gold_doc_ids[{j}]")
        for j, s in enumerate(q.gold_spans):
            if s.length == 0:
                bad.add(f"zero-length gold span {s.doc_id}[{s.start}:{s.end})", record=record, field=f"gold_spans[{j}]")
            elif s.doc_id not in doc_len or (s.end > doc_len[s.doc_id] and not q.metadata.get("past_end_references")):
                bad.add(f"gold span {s.doc_id}[{s.start}:{s.end}) lies outside the corpus", record=record, field=f"gold_spans[{j}]")
    bad.raise_if_any()


def first_questions(queries: list[Query], limit: int | None, description: dict[str, Any]) -> list[Query]:
    """The first ``limit`` questions in file order (``task.limit``, lm-eval's ``--limit``); the documents are all
    kept. A limit that drops questions is noted in the task description (run.json ``task``)."""
    if limit and limit < len(queries):
        description.update(limit=limit, questions_in_file=len(queries))
        return queries[:limit]
    return queries


class Task(ABC):
    """Bump ``version`` when a change alters the loaded documents or queries (load stage cache key)."""

    version = "1"
    label_params: tuple[str, ...] = ()
    language = "en"  # "en" or "th": what word, sentence and answer normalisation use
    breakdown_keys: tuple[str, ...] = ()  # Query.metadata keys that metrics.json breaks results down by
    headline_metric = "doc_recall@5"  # what the leaderboard sorts this suite by unless told otherwise
    questions_path: Path | None = None  # the file holding the questions (None for a hub suite)

    @abstractmethod
    def data_files(self) -> list[Path]:
        """Every file the suite reads, and every folder whose listing it reads (a folder stands for every file
        under it, names and contents, so an added file counts). Their hashes are part of the load stage's
        cache key and of a sweep's up-to-date check. Each must exist; a loader names a missing one itself
        where it can say which record asked for it."""

    @abstractmethod
    def load(self) -> tuple[list[Document], list[Query]]: ...

    def source(self) -> str:
        """What error messages about the suite as a whole name: its questions file, or the task for a hub
        suite. No I/O (``data_files`` may read and check files)."""
        return str(self.questions_path) if self.questions_path is not None else f"{type(self).__name__} (hub)"

    def corpus_source(self) -> str:
        """What error messages about the corpus name: the task's ``corpus_path`` (file or folder) where it
        has one, else ``source()``."""
        corpus = getattr(self, "corpus_path", None)
        return str(corpus) if corpus is not None else self.source()

    # ``task.limit`` for a loader that does not take ``limit`` itself (set by build_task): checked_load keeps the
    # first ``base_limit`` questions, and ``limit_note`` says so in run.json's task description.
    base_limit: int | None = None
    limit_note: dict[str, Any] = {}

    def checked_load(self) -> tuple[list[Document], list[Query]]:
        """``load``, ``task.limit`` where the base applies it, then the checks every suite must pass (check_suite)."""
        documents, queries = self.load()
        if self.base_limit:
            self.limit_note = {}
            queries = first_questions(queries, self.base_limit, self.limit_note)
        check_suite(self.source(), documents, queries, self.corpus_source())
        return documents, queries

    def describe(self) -> dict[str, Any]:
        """Facts about how the suite was built that a reader of run.json must know (empty by default)."""
        return {}


def build_task(config: dict[str, Any]) -> Task:
    """The task a config names (its own keys: ragsweep.tasks.keyword_file.split_task_config), with ``task.limit``
    applied once for every loader: a loader that takes ``limit`` itself (one whose corpus depends on the questions it
    keeps, such as HotpotQA's per-question paragraphs) cuts its file as it reads it; any other, a task format of the
    user's own included, keeps the first ``limit`` questions in file order through ``checked_load``."""
    from ragsweep.registry import TASKS, constructor_parameters, with_target_name

    params = with_target_name(config)
    accepted = constructor_parameters(TASKS.get(str(params.get("name"))))
    limit = params.get("limit")
    if "limit" not in params or (accepted is None or "limit" in accepted):
        return TASKS.build(params)
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise ConfigError(f"task.limit must be a whole number of questions (or null for all), not {limit!r}")
    params.pop("limit")
    task = TASKS.build(params)
    task.base_limit = limit or None
    return task
