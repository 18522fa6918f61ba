"""MuSiQue in its original JSONL (``musique_ans_v1.0_dev.jsonl``) or FlashRAG's JSONL copy.

Each question carries its own 20 paragraphs (``paragraphs: [{idx, title, paragraph_text,
is_supporting}]``); the corpus is their union, one Document per distinct paragraph (a title can have
several paragraphs, so the doc id is the title plus a short hash of the text). Gold: answer and
``answer_aliases``, the supporting paragraphs (as docs and whole-paragraph spans), and the hop count
read from the id prefix (``2hop__``, ``3hop1__``, ``4hop3__``).

``corpus``: a passage list [{"title", "text"}] (HippoRAG's published MuSiQue corpus) to retrieve from
instead of the union; each supporting paragraph must be in it (same title and text), else the load stops
naming the question.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ragsweep.errors import DataError
from ragsweep.hashing import sha256_text
from ragsweep.registry import TASKS
from ragsweep.types import Document, Query, Span
from ragsweep.data_files import RecordErrors, read_json, read_records, require_file, text_field
from ragsweep.tasks.base import Task, resolve_path

_HOPS = re.compile(r"^(\d)hop")


def paragraph_id(title: str, text: str) -> str:
    return f"{title} [{sha256_text(text)[:8]}]"


@TASKS.register("musique")
class MuSiQueTask(Task):
    breakdown_keys = ("hops",)

    version = "2"  # 2: optional passage-list corpus

    def __init__(
        self, path: str, questions: str = "musique_ans_v1.0_dev.jsonl", corpus: str | None = None, limit: int | None = None, language: str = "en"
    ):
        self.root = resolve_path(path)
        self.questions_path = self.root / questions
        self.corpus_path = self.root / corpus if corpus else None
        self.limit, self.language = limit, language

    def data_files(self) -> list[Path]:
        return [self.questions_path] + ([require_file(self.corpus_path)] if self.corpus_path else [])

    def _passages(self) -> list[Document]:
        assert self.corpus_path is not None
        raw = read_json(self.corpus_path)
        if not isinstance(raw, list):
            raise DataError(self.corpus_path, f"expected a list of {{title, text}} passages, got {type(raw).__name__}")
        docs: dict[str, Document] = {}
        bad = RecordErrors(self.corpus_path)
        for i, p in enumerate(raw, start=1):
            if not isinstance(p, dict) or not isinstance(p.get("title"), str) or not isinstance(p.get("text"), str):
                bad.add("expected {\"title\": str, \"text\": str}", record=i)
                continue
            doc_id = paragraph_id(p["title"], p["text"])
            docs.setdefault(doc_id, Document(doc_id, p["text"], {"title": p["title"]}))  # a repeated passage is one document
        bad.raise_if_any()
        return list(docs.values())

    def load(self) -> tuple[list[Document], list[Query]]:
        raw = read_records(self.questions_path)
        raw = raw[: self.limit] if self.limit else raw
        docs: dict[str, Document] = {}
        queries = []
        bad = RecordErrors(self.questions_path)
        for i, rec in enumerate(raw):
            with bad.collect():
                queries.append(self._query(rec, i, docs))
        bad.raise_if_any()
        return (self._passages() if self.corpus_path else list(docs.values())), queries

    def _query(self, rec: dict[str, Any], i: int, docs: dict[str, Document]) -> Query:
        path = self.questions_path
        meta = rec.get("metadata") or {}
        record = f"line {i + 1} (id {rec.get('id', '?')})"
        if not isinstance(meta, dict):
            raise DataError(path, f"expected an object, got {type(meta).__name__}", record=record, field="metadata")
        qid = rec.get("id")
        if not isinstance(qid, str) or not qid.strip():
            raise DataError(path, "missing or not a string", record=record, field="id")
        question = text_field(rec, "question", path, record)
        paragraphs = rec.get("paragraphs", meta.get("paragraphs"))
        if not isinstance(paragraphs, list):
            raise DataError(path, "expected a list of paragraphs", record=record, field="paragraphs")
        gold = []
        for j, p in enumerate(paragraphs):
            if not isinstance(p, dict) or not isinstance(p.get("title"), str) or not isinstance(p.get("paragraph_text"), str):
                raise DataError(path, "needs string title and paragraph_text", record=record, field=f"paragraphs[{j}]")
            doc_id = paragraph_id(p["title"], p["paragraph_text"])
            docs.setdefault(doc_id, Document(doc_id, p["paragraph_text"], {"title": p["title"]}))
            if p.get("is_supporting"):
                gold.append(doc_id)
        answers = self._answers(rec, meta)
        if not answers:
            raise DataError(path, "no answer", record=record, field="answer")
        hops = _HOPS.match(qid)
        return Query(
            query_id=qid,
            question=question,
            answers=answers,
            gold_spans=tuple(Span(d, 0, len(docs[d].text)) for d in dict.fromkeys(gold)),
            gold_doc_ids=tuple(dict.fromkeys(gold)),
            metadata={"hops": int(hops.group(1)) if hops else None, "answerable": rec.get("answerable", meta.get("answerable", True))},
        )

    @staticmethod
    def _answers(rec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, ...]:
        if rec.get("golden_answers"):
            return tuple(str(a) for a in rec["golden_answers"])
        main = [rec["answer"]] if rec.get("answer") else []
        aliases = rec.get("answer_aliases", meta.get("answer_aliases")) or []
        if not isinstance(aliases, list):
            aliases = []
        return tuple(dict.fromkeys(str(a) for a in main + aliases if str(a).strip()))
