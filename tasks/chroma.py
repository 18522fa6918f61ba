"""Chroma's chunking-evaluation format: a questions CSV whose ``references`` column is a JSON list of
``{content, start_index, end_index}`` character spans, plus a folder of corpus files.

``corpus_id`` names a file ``<corpora>/<corpus_id><suffix>`` (``suffix: null``: the file named exactly
``corpus_id``, else the one file ``<corpus_id>.<anything>``), or is remapped with ``corpus_paths``
(corpus id -> path relative to the suite folder), so any such CSV plus a corpus folder is a suite by
config alone; a corpus id or path that would leave the suite folder (``..``, an absolute path) is refused.
Corpora are read as UTF-8 with no newline translation (the offsets count code points of the raw file), and
every reference is checked: ``corpus[start:end] == content``.

Published span-QA sets carry two reference defects that the reference scorer accepts: spans that run past
the end of their corpus, and rows with an empty reference list. ``on_invalid_reference`` decides:
``error`` (default) stops with the row named; ``clip`` cuts such a span to the corpus and scores it, and keeps
a row without references as a question with no gold spans (counted, never scored as a miss or a hit);
``skip`` drops such a reference, and a row left with none; ``reference`` does what the reference scorer does, for
reproducing published tables: a span past the end keeps its full length (its characters past the end can never be
covered, so they stay in the recall denominator and count as uncovered in IoU's and Omega's), and a row without
references is scored recall 1, precision 0, IoU 0, Omega 0 (ragsweep.scoring.span). Each policy but ``error`` counts
every affected row and reference in the run's task description (run.json), which the leaderboard shows.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError, DataError
from ragsweep.registry import TASKS
from ragsweep.types import Document, Query, Span
from ragsweep.data_files import RecordErrors, inside, read_csv, read_text, require_file
from ragsweep.tasks.base import Task, first_questions, resolve_path

REQUIRED_COLUMNS = ("question", "references", "corpus_id")
INVALID_REFERENCE_POLICIES = ("error", "clip", "skip", "reference")


@TASKS.register("chroma")
class ChromaTask(Task):
    headline_metric = "span_iou@5"

    def __init__(
        self,
        path: str,
        questions: str = "questions_df.csv",
        corpora: str = "corpora",
        suffix: str | None = ".md",
        corpus_paths: dict[str, str] | None = None,
        language: str = "en",
        on_invalid_reference: str = "error",
        limit: int | None = None,
    ):
        if on_invalid_reference not in INVALID_REFERENCE_POLICIES:
            raise ConfigError(f"task.on_invalid_reference must be one of {', '.join(INVALID_REFERENCE_POLICIES)}, not {on_invalid_reference!r}")
        self.root = resolve_path(path)
        self.questions_path = self.root / questions
        self.corpora_dir = self.root / corpora
        self.suffix, self.corpus_paths, self.language = suffix, dict(corpus_paths or {}), language
        self.policy, self.limit = on_invalid_reference, limit
        self._description: dict[str, Any] = {}

    def corpus_file(self, corpus_id: str) -> Path | None:
        """The corpus file of ``corpus_id``, or None when the id (or its remap) would leave the suite folder."""
        if corpus_id in self.corpus_paths:
            return inside(self.root, self.corpus_paths[corpus_id])
        if "/" in corpus_id or "\\" in corpus_id or corpus_id in (".", ".."):
            return None
        if self.suffix is not None:
            return inside(self.corpora_dir, f"{corpus_id}{self.suffix}")
        exact = inside(self.corpora_dir, corpus_id)
        if exact is None or exact.is_file():
            return exact
        matches = sorted(p for p in self.corpora_dir.glob(f"{glob.escape(corpus_id)}.*") if p.is_file())
        if len(matches) > 1:
            raise DataError(self.questions_path, f"corpus id {corpus_id!r} matches {len(matches)} files ({', '.join(p.name for p in matches)}): set task.suffix", field="corpus_id")
        return matches[0] if matches else exact

    def _rows(self) -> list[dict[str, str]]:
        header, rows = read_csv(require_file(self.questions_path))
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DataError(self.questions_path, f"missing column(s) {', '.join(missing)}", record="header")
        return rows

    def _corpus_files(self, rows: list[dict[str, str]]) -> dict[str, Path]:
        """Every corpus the rows name, each checked to stay inside the suite and to exist."""
        files: dict[str, Path] = {}
        seen: set[str] = set()
        bad = RecordErrors(self.questions_path)
        for n, row in enumerate(rows, start=1):
            corpus_id = (row.get("corpus_id") or "").strip()
            if not corpus_id or corpus_id in seen:  # each corpus is named once, at its first row
                continue
            seen.add(corpus_id)
            path = self.corpus_file(corpus_id)
            if path is None:
                bad.add(f"corpus id {corpus_id!r} points outside the suite folder", record=f"row {n}", field="corpus_id")
            elif not path.is_file():
                bad.add(f"corpus file {path} not found", record=f"row {n}", field="corpus_id")
            else:
                files[corpus_id] = path
        bad.raise_if_any()
        return files

    def data_files(self) -> list[Path]:
        files = self._corpus_files(self._rows())
        return [self.questions_path] + [files[i] for i in sorted(files)]

    def describe(self) -> dict[str, Any]:
        return self._description

    def load(self) -> tuple[list[Document], list[Query]]:
        rows = self._rows()
        files = self._corpus_files(rows)
        texts = {cid: read_text(path) for cid, path in files.items()}
        self._counts = {"clipped_references": 0, "skipped_references": 0, "past_end_references": 0, "rows_without_references": 0, "skipped_rows": 0}
        queries = []
        bad = RecordErrors(self.questions_path)
        for n, row in enumerate(rows, start=1):
            with bad.collect():
                query = self._query(row, n, texts)
                if query is not None:
                    queries.append(query)
        bad.raise_if_any()
        docs = [Document(cid, texts[cid], {"source": str(files[cid])}) for cid in texts]
        self._description = {"on_invalid_reference": self.policy, **self._counts} if self.policy != "error" else {}
        return docs, first_questions(queries, self.limit, self._description)

    def _query(self, row: dict[str, str], n: int, texts: dict[str, str]) -> Query | None:
        record = f"row {n}"
        for column in REQUIRED_COLUMNS:
            if not (row.get(column) or "").strip():
                if column == "references" and self.policy != "error":
                    row = {**row, "references": "[]"}
                    continue
                raise DataError(self.questions_path, "empty value", record=record, field=column)
        corpus_id = row["corpus_id"].strip()
        spans = self._references(row["references"], texts[corpus_id], corpus_id, record)
        if not spans:
            if self.policy == "skip":
                self._counts["skipped_rows"] += 1
                return None
            self._counts["rows_without_references"] += 1
        flags = {}
        if self.policy == "reference":
            flags = {"empty_references": True} if not spans else {"past_end_references": True} if any(sp.end > len(texts[corpus_id]) for sp in spans) else {}
        return Query(
            query_id=f"q{n:04d}",
            question=row["question"],
            gold_spans=spans,
            gold_doc_ids=(corpus_id,),
            metadata={"corpus_id": corpus_id, **flags},
        )

    def _references(self, raw: str, corpus: str, corpus_id: str, record: str) -> tuple[Span, ...]:
        try:
            refs = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DataError(self.questions_path, f"invalid JSON ({err.msg})", record=record, field="references") from None
        if not isinstance(refs, list):
            raise DataError(self.questions_path, f"expected a JSON list, got {type(refs).__name__}", record=record, field="references")
        if not refs and self.policy == "error":
            raise DataError(
                self.questions_path, "empty reference list (task.on_invalid_reference=clip, skip or reference accepts it, counted)", record=record, field="references"
            )
        spans = []
        for i, ref in enumerate(refs):
            field = f"references[{i}]"
            try:
                content, start, end = ref["content"], ref["start_index"], ref["end_index"]
            except (KeyError, TypeError) as err:
                raise DataError(self.questions_path, f"needs content, start_index, end_index ({err})", record=record, field=field) from None
            if not isinstance(content, str) or any(isinstance(x, bool) or not isinstance(x, int) for x in (start, end)):
                raise DataError(self.questions_path, "content must be a string and start_index, end_index integers", record=record, field=field)
            if not 0 <= start < end:
                raise DataError(self.questions_path, f"span [{start}:{end}) is empty or inverted", record=record, field=field)
            if end > len(corpus):
                if self.policy == "error":
                    raise DataError(
                        self.questions_path,
                        f"span [{start}:{end}) outside {corpus_id} (length {len(corpus)}); task.on_invalid_reference=clip, skip or reference accepts it",
                        record=record, field=field,
                    )
                if self.policy == "reference":  # kept whole, as the reference scorer keeps it
                    self._counts["past_end_references"] += 1
                    spans.append(Span(corpus_id, start, end))
                    continue
                if self.policy == "skip" or start >= len(corpus):  # wholly past the end: nothing left to clip
                    self._counts["skipped_references"] += 1
                    continue
                self._counts["clipped_references"] += 1
                spans.append(Span(corpus_id, start, len(corpus)))
                continue
            if corpus[start:end] != content:
                raise DataError(
                    self.questions_path, f"{corpus_id}[{start}:{end}] does not equal content {content[:40]!r}", record=record, field=field
                )
            spans.append(Span(corpus_id, start, end))
        return tuple(spans)
