"""Chroma's chunking-evaluation format: a questions CSV whose ``references`` column is a JSON list of
``{content, start_index, end_index}`` character spans, plus a folder of corpus files.

``corpus_id`` names a file ``<corpora>/<corpus_id><suffix>``, or is remapped with ``corpus_paths``
(corpus id -> path relative to the suite folder), so any such CSV plus a corpus folder is a suite by
config alone. Corpora are read as UTF-8 with no newline translation (the offsets count code points of
the raw file), and every reference is checked: ``corpus[start:end] == content``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from harness.errors import DataError
from harness.registry import TASKS
from harness.types import Document, Query, Span
from tasks.base import Task, require_file, resolve_path

REQUIRED_COLUMNS = ("question", "references", "corpus_id")


@TASKS.register("chroma")
class ChromaTask(Task):
    headline_metric = "span_iou@5"

    def __init__(
        self,
        path: str,
        questions: str = "questions_df.csv",
        corpora: str = "corpora",
        suffix: str = ".md",
        corpus_paths: dict[str, str] | None = None,
        language: str = "en",
    ):
        self.root = resolve_path(path)
        self.questions_path = self.root / questions
        self.corpora_dir = self.root / corpora
        self.suffix, self.corpus_paths, self.language = suffix, dict(corpus_paths or {}), language

    def corpus_file(self, corpus_id: str) -> Path:
        if corpus_id in self.corpus_paths:
            return self.root / self.corpus_paths[corpus_id]
        return self.corpora_dir / f"{corpus_id}{self.suffix}"

    def _rows(self) -> list[dict[str, str]]:
        with open(require_file(self.questions_path), encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(self.questions_path, f"missing column(s) {', '.join(missing)}", record="header")
            return list(reader)

    def data_files(self) -> list[Path]:
        ids = sorted({row["corpus_id"] for row in self._rows()})
        return [self.questions_path] + [self.corpus_file(i) for i in ids]

    def load(self) -> tuple[list[Document], list[Query]]:
        rows = self._rows()
        texts: dict[str, str] = {}
        queries = []
        for n, row in enumerate(rows, start=1):
            record = f"row {n}"
            for column in REQUIRED_COLUMNS:
                if not (row.get(column) or "").strip():
                    raise DataError(self.questions_path, "empty value", record=record, field=column)
            corpus_id = row["corpus_id"]
            if corpus_id not in texts:
                corpus_path = self.corpus_file(corpus_id)
                if not corpus_path.exists():
                    raise DataError(self.questions_path, f"corpus file {corpus_path} not found", record=record, field="corpus_id")
                texts[corpus_id] = corpus_path.read_bytes().decode("utf-8")
            spans = self._references(row["references"], texts[corpus_id], corpus_id, record)
            queries.append(
                Query(
                    query_id=f"q{n:04d}",
                    question=row["question"],
                    gold_spans=spans,
                    gold_doc_ids=(corpus_id,),
                    metadata={"corpus_id": corpus_id},
                )
            )
        docs = [Document(cid, text, {"source": str(self.corpus_file(cid))}) for cid, text in texts.items()]
        return docs, queries

    def _references(self, raw: str, corpus: str, corpus_id: str, record: str) -> tuple[Span, ...]:
        try:
            refs = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DataError(self.questions_path, f"invalid JSON ({err.msg})", record=record, field="references") from None
        if not isinstance(refs, list) or not refs:
            raise DataError(self.questions_path, "expected a non-empty JSON list", record=record, field="references")
        spans = []
        for i, ref in enumerate(refs):
            field = f"references[{i}]"
            try:
                content, start, end = ref["content"], int(ref["start_index"]), int(ref["end_index"])
            except (KeyError, TypeError, ValueError) as err:
                raise DataError(self.questions_path, f"needs content, start_index, end_index ({err})", record=record, field=field) from None
            if not 0 <= start < end <= len(corpus):
                raise DataError(
                    self.questions_path, f"span [{start}:{end}) outside {corpus_id} (length {len(corpus)})", record=record, field=field
                )
            if corpus[start:end] != content:
                raise DataError(
                    self.questions_path, f"{corpus_id}[{start}:{end}] does not equal content {content[:40]!r}", record=record, field=field
                )
            spans.append(Span(corpus_id, start, end))
        return tuple(spans)
