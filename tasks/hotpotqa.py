"""HotpotQA in its original JSON format: questions with ``supporting_facts`` [[title, sentence index]]
and ``context`` [[title, [sentences]]], plus optionally a corpus file {title: [sentences]}.

One Document per title, its text the sentences joined as published (HotpotQA sentences carry their
own leading spaces). Gold: the answer, the supporting titles, and each supporting sentence as a
character span (leading and trailing whitespace excluded). Without a corpus file the corpus is the
union of the questions' contexts (the distractor setting).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.registry import TASKS
from harness.types import Document, Query, Span
from tasks.base import Task, require_file, resolve_path


def _sentence_spans(doc_id: str, sentences: list[str]) -> tuple[str, list[Span]]:
    spans, pos = [], 0
    for s in sentences:
        lead = len(s) - len(s.lstrip())
        body = len(s.strip())
        spans.append(Span(doc_id, pos + lead, pos + lead + body))
        pos += len(s)
    return "".join(sentences), spans


@TASKS.register("hotpotqa")
class HotpotQATask(Task):
    def __init__(
        self, path: str, questions: str = "questions.json", corpus: str | None = "corpus.json", limit: int | None = None, language: str = "en"
    ):
        self.language = language
        self.root = resolve_path(path)
        self.questions_path = self.root / questions
        self.corpus_path = self.root / corpus if corpus else None
        self.limit = limit

    def data_files(self) -> list[Path]:
        return [self.questions_path] + ([self.corpus_path] if self.corpus_path else [])

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(require_file(path).read_text("utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(path, f"invalid JSON at line {err.lineno} ({err.msg})") from None

    def load(self) -> tuple[list[Document], list[Query]]:
        records = self._read_json(self.questions_path)
        if not isinstance(records, list):
            raise DataError(self.questions_path, "expected a JSON list of questions")
        records = records[: self.limit] if self.limit else records
        corpus: dict[str, list[str]] = {}
        if self.corpus_path:
            corpus = self._read_json(self.corpus_path)
        else:
            for rec in records:
                for title, sentences in rec.get("context") or []:
                    corpus.setdefault(title, sentences)
        docs, sentence_spans = [], {}
        for title, sentences in corpus.items():
            text, spans = _sentence_spans(title, sentences)
            docs.append(Document(title, text, {"title": title}))
            sentence_spans[title] = spans
        queries = [self._query(rec, i, sentence_spans) for i, rec in enumerate(records)]
        return docs, queries

    def _query(self, rec: dict[str, Any], i: int, sentence_spans: dict[str, list[Span]]) -> Query:
        record = f"{i} (_id {rec.get('_id', '?')})"
        for field in ("_id", "question", "answer", "supporting_facts"):
            if field not in rec:
                raise DataError(self.questions_path, "missing", record=record, field=field)
        spans, titles = [], []
        for j, fact in enumerate(rec["supporting_facts"]):
            field = f"supporting_facts[{j}]"
            try:
                title, sent_idx = fact[0], int(fact[1])
            except (TypeError, ValueError, IndexError):
                raise DataError(self.questions_path, f"expected [title, sentence index], got {fact!r}", record=record, field=field) from None
            if title not in sentence_spans:
                raise DataError(self.questions_path, f"title {title!r} is not in the corpus", record=record, field=field)
            if not 0 <= sent_idx < len(sentence_spans[title]):
                raise DataError(
                    self.questions_path,
                    f"sentence {sent_idx} out of range: {title!r} has {len(sentence_spans[title])}",
                    record=record,
                    field=field,
                )
            spans.append(sentence_spans[title][sent_idx])
            titles.append(title)
        return Query(
            query_id=str(rec["_id"]),
            question=rec["question"],
            answers=(rec["answer"],),
            gold_spans=tuple(spans),
            gold_doc_ids=tuple(dict.fromkeys(titles)),
            metadata={"type": rec.get("type"), "level": rec.get("level")},
        )
