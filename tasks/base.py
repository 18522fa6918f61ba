from __future__ import annotations

import csv
import io
import json
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ragsweep.errors import ConfigError, DataError, did_you_mean
from ragsweep.types import Document, Query

BUNDLED_DATA = Path(__file__).resolve().parent / "data"
MAX_REPORTED = 10  # bad records named in one error; the rest are counted
MAX_METADATA_DEPTH = 32  # deeper metadata is refused: nothing a suite needs, and Arrow and hashing have limits
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def resolve_path(path: str | Path) -> Path:
    """``bundled:<name>`` is a suite shipped in tasks/data; anything else is a filesystem path."""
    text = str(path)
    if text.startswith("bundled:"):
        return BUNDLED_DATA / text.removeprefix("bundled:")
    return Path(text).expanduser()


def require_file(path: Path) -> Path:
    if not path.exists():
        raise DataError(path, missing_file_hint(path))
    return path


def missing_file_hint(path: Path) -> str:
    """Why a suite file is missing and what to set: a suite path never given (``???``); a folder that holds other
    files of the same kind (FlashRAG's NQ ships test.jsonl, not dev.jsonl: ``task.questions=test.jsonl``); else
    the folder to point at."""
    if "???" in path.parts:
        return "file not found: this suite needs its folder, task.path=DIR (ragsweep run task=<suite> task.path=DIR)"
    folder = path.parent
    if folder.is_dir() and path.suffix:
        siblings = sorted(p.name for p in folder.glob(f"*{path.suffix}") if p.is_file())
        if siblings:
            example = next((n for n in siblings if "corpus" not in n), siblings[0])
            return (f"file not found; {folder} holds {', '.join(siblings[:5])}{' ...' if len(siblings) > 5 else ''}: "
                    f"name one, e.g. task.questions={example} (or the task's key for this file)")
    return "file not found (set task.path to the folder that holds this suite)"


def inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` when it stays inside ``root`` (no absolute path, no ``..`` escape), else None."""
    if not relative or Path(relative).is_absolute():
        return None
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root.resolve()) else None


def read_text(path: Path, bom: bool = False) -> str:
    """The file as UTF-8 text; a non-UTF-8 byte is one error naming its offset. ``bom``: drop a leading
    UTF-8 byte-order mark (never for corpora, whose offsets count every code point)."""
    raw = require_file(path).read_bytes()
    try:
        return raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8: byte 0x{raw[err.start]:02x} at byte offset {err.start}") from None


def _no_duplicate_keys(path: Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DataError(path, f"key {key!r} appears twice in one JSON object (the later value would replace the earlier)", field=key)
            out[key] = value
        return out

    return hook


def parse_json(path: Path, text: str, record: object = None) -> Any:
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}" if record is None else None
        raise DataError(path, f"invalid JSON{' at ' + where if where else ''} ({err.msg})", record=record) from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to read", record=record) from None
    if SURROGATE_ESCAPE.search(text):  # valid JSON, but a lone surrogate is no text: it cannot be stored or hashed
        field = _lone_surrogate(value, "")
        if field is not None:
            raise DataError(path, "a lone surrogate escape (\\ud800-\\udfff without its pair) is not text", record=record, field=field or None)
    return value


def _lone_surrogate(value: Any, where: str) -> str | None:
    """The JSON path of the first string (or key) holding a lone surrogate, else None."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return at
        elif isinstance(item, dict):
            for key, child in item.items():
                if any("\ud800" <= ch <= "\udfff" for ch in key):
                    return at
                stack.append((child, f"{at}.{key}" if at else key))
        elif isinstance(item, list):
            stack.extend((child, f"{at}[{i}]") for i, child in enumerate(item))
    return None


def nesting_depth(value: Any) -> int:
    """How many levels of lists and objects ``value`` has (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_json(path: Path) -> Any:
    return parse_json(path, read_text(path, bom=True))


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a UTF-8 CSV (a byte-order mark is dropped)."""
    reader = csv.DictReader(io.StringIO(read_text(path, bom=True), newline=""))
    try:
        rows = list(reader)
    except csv.Error as err:
        raise DataError(path, f"malformed CSV ({err})", record=f"line {reader.line_num}") from None
    return list(reader.fieldnames or []), rows


def read_records(path: Path) -> list[dict[str, Any]]:
    """A JSON list of objects, or JSON Lines (one object per line; blank lines skipped) when the name ends
    .jsonl."""
    return [rec for _, rec in numbered_records(path)]


def record_label(path: Path, number: int) -> str:
    """How errors name record ``number`` of ``path``: its line in JSON Lines, its position in a JSON list."""
    return f"line {number}" if path.suffix == ".jsonl" else str(number)


def numbered_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``read_records`` with each record's number: its 1-based line in JSON Lines (blank lines count), its
    1-based position in a JSON list."""
    if path.suffix != ".jsonl":
        records = read_json(path)
        if not isinstance(records, list):
            raise DataError(path, f"expected a JSON list of records, got {type(records).__name__}")
        numbered = list(enumerate(records, start=1))
    else:
        bad = RecordErrors(path)
        numbered = []
        for n, line in enumerate(read_text(path, bom=True).splitlines(), start=1):
            if line.strip():
                with bad.collect():
                    numbered.append((n, parse_json(path, line, record=f"line {n}")))
        bad.raise_if_any()
    bad = RecordErrors(path)
    for n, rec in numbered:
        if not isinstance(rec, dict):
            bad.add(f"expected a JSON object, got {type(rec).__name__}", record=f"line {n}" if path.suffix == ".jsonl" else n)
    bad.raise_if_any()
    return numbered


class RecordErrors:
    """Every bad record of one file, raised as one DataError: the first MAX_REPORTED named, the rest counted."""

    def __init__(self, path: object):
        self.path = str(path)
        self.errors: list[DataError] = []

    def add(self, message: str, record: object = None, field: str | None = None) -> None:
        self.errors.append(DataError(self.path, message, record=record, field=field))

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Run one record's checks; a DataError it raises is kept and the caller goes on to the next record."""
        try:
            yield
        except DataError as err:
            self.errors.append(err)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise self.errors[0]
        prefix = self.path + ", "
        parts = [str(e).removeprefix(prefix) for e in self.errors[:MAX_REPORTED]]
        more = len(self.errors) - MAX_REPORTED
        raise DataError(self.path, f"{len(self.errors)} bad records: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else ""))


def text_field(rec: dict[str, Any], key: str, path: object, record: object) -> str:
    """A required string field with something besides whitespace in it."""
    value = rec.get(key)
    if not isinstance(value, str):
        got = "missing" if value is None else f"expected a string, got {type(value).__name__}"
        raise DataError(path, got, record=record, field=key)
    if not value.strip():
        raise DataError(path, "empty or whitespace only", record=record, field=key)
    return value


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
