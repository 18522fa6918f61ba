"""Bring your own data: questions in JSON Lines plus a corpus (a JSONL file or a folder of text files).

Questions (``questions.jsonl``; a ``.json`` list works too), one object per line::

    {"id": "q1", "question": "...", "answers": ["..."], "gold_doc_ids": ["doc-a"],
     "gold_spans": [{"doc_id": "doc-a", "start": 10, "end": 42}], "metadata": {...}}

Only ``id`` and ``question`` are required; ``answers`` (a string or a list) also reads FlashRAG's
``golden_answers``, ``id`` also reads ``_id``. A question with no gold for a metric is counted as unscored
for it, never as a miss.

Corpus, one of:
- a JSONL file of ``{"id", "text", "title"?}`` (also FlashRAG's ``{"id", "contents"}``, whose first line is
  the quoted title, and BEIR's ``{"_id", "title", "text"}``);
- a folder of UTF-8 text files (``suffixes``), each a document whose id is its path inside the folder.

FlashRAG's JSONL data sets (``dev.jsonl`` + ``corpus.jsonl``) load with this loader unchanged
(configs/task/flashrag.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragsweep.errors import DataError
from ragsweep.registry import TASKS
from ragsweep.data_files import RecordErrors, numbered_records, read_text, record_label, require_file, text_field
from ragsweep.tasks.base import Task, resolve_path
from ragsweep import runtime
from ragsweep.tasks.documents import DOCUMENT_SUFFIXES, document_text
from ragsweep.types import Document, Query, Span


def alias_key(rec: dict[str, Any], keys: tuple[str, ...], path: Path, record: object) -> str | None:
    """Which of the alias fields ``keys`` the record uses; two of them at once is an error (one would be
    silently ignored)."""
    present = [k for k in keys if k in rec]
    if len(present) > 1:
        raise DataError(path, f"both {present[0]!r} and {present[1]!r} are present (the same field under two names): keep one", record=record, field=present[1])
    return present[0] if present else None


def record_id(rec: dict[str, Any], path: Path, record: object, keys: tuple[str, ...] = ("id", "_id")) -> str:
    """The record's id under the one of ``keys`` it has: a non-blank string or an integer."""
    key = alias_key(rec, keys, path, record) or keys[0]
    value = rec.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise DataError(path, "missing, blank or not a string id", record=record, field=key)
    return str(value)


def flashrag_title(contents: str) -> str | None:
    """FlashRAG's wiki corpora put the title, in double quotes, on the first line of ``contents``."""
    first, _, rest = contents.partition("\n")
    return first[1:-1] if rest and len(first) >= 2 and first[0] == first[-1] == '"' else None


def read_corpus_jsonl(path: Path) -> list[Document]:
    """Documents from a JSONL corpus in any of the three layouts (text under ``text`` or ``contents``)."""
    docs = []
    bad = RecordErrors(path)
    for n, rec in numbered_records(require_file(path)):
        with bad.collect():
            record = record_label(path, n)
            doc_id = record_id(rec, path, record)
            key = alias_key(rec, ("text", "contents"), path, record) or "text"
            text = text_field(rec, key, path, f"{record} (id {doc_id})")
            title = rec.get("title")
            if title is not None and not isinstance(title, str):
                raise DataError(path, f"expected a string, got {type(title).__name__}", record=record, field="title")
            title = title or (flashrag_title(text) if key == "contents" else None)
            docs.append(Document(doc_id, text, {"title": title} if title else {}))
    bad.raise_if_any()
    return docs


def read_corpus_folder(folder: Path, suffixes: tuple[str, ...]) -> list[Document]:
    """Every file under ``folder`` whose name ends with one of ``suffixes``, in path order; the id is the
    path relative to the folder. Offsets count code points of the raw file (no newline translation); a .pdf or
    .docx file's are offsets into its extracted text (ragsweep.tasks.documents). A
    symbolic link must lead to something inside the folder; an empty document is refused, as in a JSONL
    corpus."""
    if not folder.is_dir():
        raise DataError(folder, "corpus folder not found (set task.path / task.corpus)")
    real_root = folder.resolve()
    entries = sorted(folder.rglob("*"))
    for entry in entries:
        if entry.is_symlink():
            target = entry.resolve()
            if not target.exists():
                raise DataError(entry, f"dangling symbolic link (to {target}): remove it or restore its target")
            if not target.is_relative_to(real_root):
                raise DataError(entry, f"symbolic link leads outside the corpus folder (to {target}): refused")
    files = [p for p in entries if p.is_file() and p.name.endswith(tuple(suffixes))]
    if not files:
        raise DataError(folder, f"no corpus files ending {', '.join(suffixes)} (set task.suffixes)")
    docs = []
    for p in files:
        text = document_text(p, runtime.current().cache_dir) if p.suffix.lower() in DOCUMENT_SUFFIXES else read_text(p)
        if not text.strip():
            raise DataError(p, "empty or whitespace only: a document with no text could never be retrieved")
        docs.append(Document(p.relative_to(folder).as_posix(), text, {"title": p.stem}))
    return docs


def read_corpus(path: Path, suffixes: tuple[str, ...]) -> list[Document]:
    return read_corpus_folder(path, suffixes) if path.is_dir() else read_corpus_jsonl(path)


def _strings(rec: dict[str, Any], keys: tuple[str, ...], path: Path, record: object) -> tuple[str, ...]:
    """A string or a list of strings under the one present key of ``keys`` (absent: empty). A blank string
    is an error: as gold it would be a question no answer can match, scored as a miss."""
    key = alias_key(rec, keys, path, record)
    if key is None or rec[key] is None:
        return ()
    value = [rec[key]] if isinstance(rec[key], str) else rec[key]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise DataError(path, "expected a string or a list of strings", record=record, field=key)
    for j, v in enumerate(value):
        if not str(v).strip():
            raise DataError(path, "empty or whitespace only", record=record, field=f"{key}[{j}]" if isinstance(rec[key], list) else key)
    return tuple(str(v) for v in value)


def _spans(rec: dict[str, Any], path: Path, record: object) -> tuple[Span, ...]:
    spans = []
    for j, s in enumerate(rec.get("gold_spans") or []):
        ok = isinstance(s, dict) and isinstance(s.get("doc_id"), str) and all(
            isinstance(s.get(k), int) and not isinstance(s.get(k), bool) for k in ("start", "end")
        )
        if not ok or s["start"] < 0 or s["end"] < s["start"]:
            raise DataError(path, "expected {doc_id: str, start: int >= 0, end: int >= start}", record=record, field=f"gold_spans[{j}]")
        spans.append(Span(s["doc_id"], s["start"], s["end"]))
    return tuple(spans)


def read_questions(path: Path) -> list[Query]:
    queries = []
    bad = RecordErrors(path)
    for n, rec in numbered_records(require_file(path)):
        with bad.collect():
            record = record_label(path, n)
            qid = record_id(rec, path, record)
            record = f"{record} (id {qid})"
            meta = rec.get("metadata") or {}
            if not isinstance(meta, dict):
                raise DataError(path, f"expected an object, got {type(meta).__name__}", record=record, field="metadata")
            spans = _spans(rec, path, record)
            docs = _strings(rec, ("gold_doc_ids",), path, record) or tuple(dict.fromkeys(s.doc_id for s in spans))
            queries.append(Query(
                query_id=qid,
                question=text_field(rec, "question", path, record),
                answers=_strings(rec, ("answers", "golden_answers", "answer"), path, record),
                gold_spans=spans,
                gold_doc_ids=docs,
                metadata=meta,
            ))
    bad.raise_if_any()
    return queries


@TASKS.register("generic")
class GenericTask(Task):
    def __init__(
        self,
        path: str,
        questions: str = "questions.jsonl",
        corpus: str = "corpus.jsonl",
        suffixes: tuple[str, ...] | list[str] = (".txt", ".md"),
        limit: int | None = None,
        language: str = "en",
    ):
        self.root = resolve_path(path)
        self.questions_path = self.root / questions
        self.corpus_path = self.root / corpus
        self.suffixes, self.limit, self.language = tuple(suffixes), limit, language

    def data_files(self) -> list[Path]:
        return [require_file(self.questions_path), require_file(self.corpus_path)]

    def load(self) -> tuple[list[Document], list[Query]]:
        queries = read_questions(self.questions_path)
        return read_corpus(self.corpus_path, self.suffixes), queries[: self.limit] if self.limit else queries
