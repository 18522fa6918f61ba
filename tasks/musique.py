"""MuSiQue in its original JSONL (``musique_ans_v1.0_dev.jsonl``) or FlashRAG's JSONL copy.

Each question carries its own 20 paragraphs (``paragraphs: [{idx, title, paragraph_text,
is_supporting}]``); the corpus is their union, one Document per distinct paragraph (a title can have
several paragraphs, so the doc id is the title plus a short hash of the text). Gold: answer and
``answer_aliases``, the supporting paragraphs (as docs and whole-paragraph spans), and the hop count
read from the id prefix (``2hop__``, ``3hop1__``, ``4hop3__``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.hashing import sha256_text
from harness.registry import TASKS
from harness.types import Document, Query, Span
from tasks.base import Task, read_records, resolve_path

_HOPS = re.compile(r"^(\d)hop")


def paragraph_id(title: str, text: str) -> str:
    return f"{title} [{sha256_text(text)[:8]}]"


@TASKS.register("musique")
class MuSiQueTask(Task):
    breakdown_keys = ("hops",)

    def __init__(self, path: str, questions: str = "musique_ans_v1.0_dev.jsonl", limit: int | None = None, language: str = "en"):
        self.root = resolve_path(path)
        self.questions_path = self.root / questions
        self.limit, self.language = limit, language

    def data_files(self) -> list[Path]:
        return [self.questions_path]

    def load(self) -> tuple[list[Document], list[Query]]:
        raw = read_records(self.questions_path)
        raw = raw[: self.limit] if self.limit else raw
        docs: dict[str, Document] = {}
        queries = []
        for i, rec in enumerate(raw):
            meta = dict(rec.get("metadata") or {})
            record = f"line {i + 1} (id {rec.get('id', '?')})"
            paragraphs = rec.get("paragraphs", meta.get("paragraphs"))
            if not rec.get("question") or not isinstance(paragraphs, list):
                raise DataError(self.questions_path, "needs question and a paragraphs list", record=record, field="paragraphs")
            gold = []
            for j, p in enumerate(paragraphs):
                try:
                    title, text, supporting = p["title"], p["paragraph_text"], bool(p.get("is_supporting"))
                except (KeyError, TypeError):
                    raise DataError(self.questions_path, "needs title and paragraph_text", record=record, field=f"paragraphs[{j}]") from None
                doc_id = paragraph_id(title, text)
                docs.setdefault(doc_id, Document(doc_id, text, {"title": title}))
                if supporting:
                    gold.append(doc_id)
            answers = self._answers(rec, meta)
            if not answers:
                raise DataError(self.questions_path, "no answer", record=record, field="answer")
            hops = _HOPS.match(str(rec.get("id", "")))
            queries.append(
                Query(
                    query_id=str(rec.get("id", i)),
                    question=rec["question"],
                    answers=answers,
                    gold_spans=tuple(Span(d, 0, len(docs[d].text)) for d in gold),
                    gold_doc_ids=tuple(dict.fromkeys(gold)),
                    metadata={"hops": int(hops.group(1)) if hops else None, "answerable": rec.get("answerable", meta.get("answerable", True))},
                )
            )
        return list(docs.values()), queries

    @staticmethod
    def _answers(rec: dict[str, Any], meta: dict[str, Any]) -> tuple[str, ...]:
        if rec.get("golden_answers"):
            return tuple(str(a) for a in rec["golden_answers"])
        main = [rec["answer"]] if rec.get("answer") else []
        aliases = rec.get("answer_aliases", meta.get("answer_aliases")) or []
        return tuple(dict.fromkeys(str(a) for a in main + list(aliases)))
