"""NitiBench (Thai legal QA) in its repository format: ``laws/*.json`` lists of
``{law_name, section_num, section_content}`` and a questions CSV whose ``relevant_laws`` column is a
Python-literal list of ``{'law', 'sections'}``.

One Document per law (its sections joined by blank lines, in file order); each section's character
range is kept in ``Document.metadata["sections"]`` so that any chunk maps back to the sections it
overlaps. Gold: the relevant sections as spans, their laws as gold docs, and ``law-section`` ids.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ragsweep.errors import DataError
from ragsweep.registry import TASKS
from ragsweep.types import Document, Query, Span
from ragsweep.data_files import RecordErrors, read_csv, read_json, require_file
from ragsweep.tasks.base import Task, first_questions, resolve_path
from ragsweep.tasks.hub import load_hub_rows

SECTION_SEPARATOR = "\n\n"


@TASKS.register("nitibench")
class NitiBenchTask(Task):
    headline_metric = "section_multi_mrr@10"

    def __init__(
        self,
        path: str | None = None,
        questions: str = "hf_tax.csv",
        laws: str = "laws",
        hub_id: str | None = None,
        split: str = "tax",
        statute_hub_id: str = "VISAI-AI/nitibench-statute",
        statute_split: str = "train",
        language: str = "th",
        limit: int | None = None,
    ):
        self.language, self.limit = language, limit
        self._description: dict[str, Any] = {}
        self.root = resolve_path(path) if path else None
        self.questions_path = self.root / questions if self.root else None
        self.laws_dir = self.root / laws if self.root else None
        self.hub_id, self.split, self.statute_hub_id, self.statute_split = hub_id, split, statute_hub_id, statute_split

    def law_files(self) -> list[Path]:
        if self.laws_dir is None:
            return []
        files = sorted(require_file(self.laws_dir).glob("*.json"))
        if not files:
            raise DataError(self.laws_dir, "no *.json law files")
        return files

    def corpus_source(self) -> str:
        return str(self.laws_dir) if self.laws_dir is not None else self.source()

    def data_files(self) -> list[Path]:
        if self.questions_path is None:
            return []
        self.law_files()  # the folder must hold law files; the folder itself is hashed, so an added one counts
        return [self.questions_path, *([self.laws_dir] if self.laws_dir is not None else [])]

    def _statute_sources(self) -> list[tuple[str, list[dict[str, Any]]]]:
        if self.laws_dir is not None:
            sources = []
            for path in self.law_files():
                entries = read_json(path)
                if not isinstance(entries, list):
                    raise DataError(path, f"expected a JSON list of sections, got {type(entries).__name__}")
                sources.append((str(path), entries))
            return sources
        rows = load_hub_rows(self.statute_hub_id, None, self.statute_split, "laws/*.json")
        return [(f"{self.statute_hub_id}:{self.statute_split}", rows)]

    def _question_rows(self) -> tuple[str, list[dict[str, Any]]]:
        if self.questions_path is not None:
            return str(self.questions_path), read_csv(self.questions_path)[1]
        return f"{self.hub_id}:{self.split}", load_hub_rows(self.hub_id, None, self.split, "hf_tax.csv and laws/")

    def _sections(self) -> dict[str, list[tuple[str, str]]]:
        laws: dict[str, list[tuple[str, str]]] = {}
        seen: set[tuple[str, str]] = set()
        for path, entries in self._statute_sources():
            bad = RecordErrors(path)
            for i, entry in enumerate(entries, start=1):
                with bad.collect():
                    if not isinstance(entry, dict):
                        raise DataError(path, f"expected an object, got {type(entry).__name__}", record=i)
                    for field in ("law_name", "section_num", "section_content"):
                        value = entry.get(field)
                        if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
                            raise DataError(path, "missing, empty or not a string", record=i, field=field)
                    if not isinstance(entry["law_name"], str) or not isinstance(entry["section_content"], str):
                        raise DataError(path, "expected strings for law_name and section_content", record=i, field="law_name")
                    key = (entry["law_name"], str(entry["section_num"]))
                    if key in seen:
                        raise DataError(path, f"section {key[0]}-{key[1]} appears twice in the corpus", record=i, field="section_num")
                    seen.add(key)
                    laws.setdefault(key[0], []).append((key[1], entry["section_content"]))
            bad.raise_if_any()
        return laws

    def load(self) -> tuple[list[Document], list[Query]]:
        docs, section_spans = [], {}
        for law, sections in self._sections().items():
            parts, meta, pos = [], [], 0
            for num, content in sections:
                meta.append([num, pos, pos + len(content)])
                section_spans[(law, num)] = Span(law, pos, pos + len(content))
                parts.append(content)
                pos += len(content) + len(SECTION_SEPARATOR)
            docs.append(Document(law, SECTION_SEPARATOR.join(parts), {"law": law, "sections": meta}))
        source, rows = self._question_rows()
        queries = []
        bad = RecordErrors(source)
        for n, row in enumerate(rows, start=1):
            with bad.collect():
                queries.append(self._query(source, row, n, section_spans))
        bad.raise_if_any()
        return docs, first_questions(queries, self.limit, self._description)

    def describe(self) -> dict[str, Any]:
        return self._description

    def _query(self, source: str, row: dict[str, Any], n: int, section_spans: dict[tuple[str, str], Span]) -> Query:
        record = f"row {n}"
        for field in ("question", "relevant_laws"):
            if not str(row.get(field) or "").strip():
                raise DataError(source, "missing or empty", record=record, field=field)
        try:
            relevant = row["relevant_laws"]
            relevant = ast.literal_eval(relevant) if isinstance(relevant, str) else relevant
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
            raise DataError(source, f"not a Python literal list ({err})", record=record, field="relevant_laws") from None
        if not isinstance(relevant, (list, tuple)):
            raise DataError(source, f"expected a list of {{'law', 'sections'}}, got {type(relevant).__name__}", record=record, field="relevant_laws")
        spans, gold = [], []
        for j, item in enumerate(relevant):
            try:
                law, sections = item["law"], item["sections"]
            except (KeyError, TypeError):
                raise DataError(source, f"expected {{'law', 'sections'}}, got {item!r}", record=record, field=f"relevant_laws[{j}]") from None
            if not isinstance(law, str):
                raise DataError(source, f"law must be a string, got {type(law).__name__}", record=record, field=f"relevant_laws[{j}]")
            if not isinstance(sections, (str, int, list, tuple)):
                raise DataError(source, f"sections must be a number or a list, got {type(sections).__name__}", record=record, field=f"relevant_laws[{j}]")
            for num in [sections] if isinstance(sections, (str, int)) else sections:
                key = (law, str(num))
                if key not in section_spans:
                    raise DataError(
                        source, f"section {law}-{num} is not in the statute corpus", record=record, field=f"relevant_laws[{j}]"
                    )
                if f"{law}-{num}" not in gold:
                    spans.append(section_spans[key])
                    gold.append(f"{law}-{num}")
        answer = (row.get("reference_answer") or row.get("answer") or "").strip()
        return Query(
            query_id=f"q{n:04d}",
            question=row["question"],
            answers=(answer,) if answer else (),
            gold_spans=tuple(spans),
            gold_doc_ids=tuple(dict.fromkeys(s.doc_id for s in spans)),
            metadata={"gold_sections": gold},
        )
