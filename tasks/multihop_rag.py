"""MultiHop-RAG (news articles; queries whose evidence is facts quoted from 2-4 articles).

Accepted layouts: the published JSON (``MultiHopRAG.json``: [{query, answer, question_type,
evidence_list}] and ``corpus.json``: [{title, url, body, ...}]), the hub's yixuantt/MultiHopRAG configs
``MultiHopRAG`` and ``corpus``, and the split layout of $RAGSWEEP_DATA/multihop_rag_sample
(``queries.json`` {queries: [{id, question, question_type}]} + ``ground_truth.json`` {id: {answer,
evidence_list}}).

With the article corpus, each evidence fact is located in its article (exact, then case- and
whitespace-insensitive) and becomes a gold span; a fact that cannot be located keeps its article as gold
doc and is counted in the run's task description. Without the corpus, each article's Document is built
from its evidence facts alone, and the run's metadata says so: retrieval is then over evidence text only,
so its scores are not comparable with runs over the full corpus. Null queries have no evidence: they
count in answer metrics, not in retrieval ones.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ragsweep.errors import DataError
from ragsweep.registry import TASKS
from ragsweep.types import Document, Query, Span
from ragsweep.data_files import RecordErrors, read_json, text_field
from ragsweep.tasks.base import Task, resolve_path
from ragsweep.tasks.hub import load_hub_rows

log = logging.getLogger(__name__)


def article_id(item: dict[str, Any]) -> str:
    return str(item.get("url") or item["title"])


def locate(fact: str, body: str) -> tuple[int, int] | None:
    start = body.find(fact)
    if start >= 0:
        return start, start + len(fact)
    words = fact.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(w) for w in words), body, re.IGNORECASE)
    return (match.start(), match.end()) if match else None


@TASKS.register("multihop_rag")
class MultiHopRAGTask(Task):
    breakdown_keys = ("question_type",)

    def __init__(
        self,
        path: str | None = None,
        queries: str = "MultiHopRAG.json",
        ground_truth: str | None = None,
        corpus: str | None = "corpus.json",
        hub_id: str | None = None,
        split: str = "train",
        limit: int | None = None,
        language: str = "en",
    ):
        self.root = resolve_path(path) if path else None
        self.questions_path = self.root / queries if self.root else None
        self.truth_path = self.root / ground_truth if self.root and ground_truth else None
        self.corpus_path = self.root / corpus if self.root and corpus else None
        self.hub_id, self.split, self.limit, self.language = hub_id, split, limit, language
        self._description: dict[str, Any] = {}

    def data_files(self) -> list[Path]:
        return [p for p in (self.questions_path, self.truth_path, self.corpus_path) if p is not None]

    def describe(self) -> dict[str, Any]:
        return self._description

    def _records(self) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]] | None]:
        if self.questions_path is None:
            hint = "MultiHopRAG.json and corpus.json"
            rows = load_hub_rows(self.hub_id, "MultiHopRAG", self.split, hint)
            corpus = load_hub_rows(self.hub_id, "corpus", self.split, hint)
            return f"{self.hub_id}:MultiHopRAG", [self._published(r, i) for i, r in enumerate(rows)], corpus
        source = str(self.questions_path)
        raw = read_json(self.questions_path)
        if self.truth_path is not None:
            records = self._split_records(raw)
        elif isinstance(raw, list):
            bad = RecordErrors(self.questions_path)
            for i, r in enumerate(raw, start=1):
                if not isinstance(r, dict):
                    bad.add(f"expected a JSON object, got {type(r).__name__}", record=i)
            bad.raise_if_any()
            records = [self._published(r, i) for i, r in enumerate(raw)]
        else:
            raise DataError(self.questions_path, f"expected a JSON list of queries, got {type(raw).__name__} (or set task.ground_truth)")
        corpus = None
        if self.corpus_path is not None and self.corpus_path.exists():
            corpus = read_json(self.corpus_path)
            if not isinstance(corpus, list):
                raise DataError(self.corpus_path, f"expected a JSON list of articles, got {type(corpus).__name__}")
        return source, records, corpus

    def _split_records(self, raw: Any) -> list[dict[str, Any]]:
        """queries.json {queries: [{id, question, question_type}]} joined with ground_truth.json {id: {...}}."""
        assert self.truth_path is not None and self.questions_path is not None
        if not isinstance(raw, dict) or not isinstance(raw.get("queries"), list):
            raise DataError(self.questions_path, f"expected an object with a \"queries\" list, got {type(raw).__name__}", field="queries")
        truth = read_json(self.truth_path)
        if not isinstance(truth, dict):
            raise DataError(self.truth_path, f"expected an object {{id: {{answer, evidence_list}}}}, got {type(truth).__name__}")
        records = []
        bad, missing = RecordErrors(self.questions_path), RecordErrors(self.truth_path)
        for i, q in enumerate(raw["queries"], start=1):
            if not isinstance(q, dict) or not isinstance(q.get("id"), (str, int)):
                bad.add("expected an object with an id", record=i, field="id")
                continue
            t = truth.get(str(q["id"]))
            if not isinstance(t, dict):
                missing.add(f"no ground truth for query id {q['id']!r}" + ("" if t is None else " (not an object)"), record=i, field="id")
                continue
            records.append({"id": str(q["id"]), "question": q.get("question"), "question_type": q.get("question_type"), **t})
        bad.raise_if_any()
        missing.raise_if_any()
        return records

    @staticmethod
    def _published(row: dict[str, Any], i: int) -> dict[str, Any]:
        return {"id": f"q{i:04d}", "question": row.get("query"), **{k: row.get(k) for k in ("answer", "question_type", "evidence_list")}}

    def load(self) -> tuple[list[Document], list[Query]]:
        source, records, corpus = self._records()
        records = records[: self.limit] if self.limit else records
        bad = RecordErrors(source)
        for i, rec in enumerate(records, start=1):
            record = f"{i} (id {rec.get('id')})"
            with bad.collect():
                for field in ("question", "answer"):
                    text_field(rec, field, source, record)
                evidence = rec.get("evidence_list") or []
                if not isinstance(evidence, list):
                    raise DataError(source, "expected a list", record=record, field="evidence_list")
                for j, ev in enumerate(evidence):
                    if not isinstance(ev, dict) or not (isinstance(ev.get("url"), str) or isinstance(ev.get("title"), str)):
                        raise DataError(source, "expected an object with a url or title", record=record, field=f"evidence_list[{j}]")
                    text_field(ev, "fact", source, record)
        bad.raise_if_any()
        if corpus is not None:
            docs = self._articles(corpus)
            self._description = {"corpus": f"article corpus, {len(docs)} articles"}
        else:
            docs = self._docs_from_evidence(records)
            n_facts = sum(d.metadata["facts"] for d in docs.values())
            self._description = {
                "corpus": f"built from the evidence facts ({len(docs)} articles, {n_facts} distinct facts): "
                "no article corpus was given, so retrieval is over evidence text only"
            }
        unlocated = 0
        queries = []
        bad = RecordErrors(source)
        for i, rec in enumerate(records, start=1):
            spans, gold = [], []
            for j, ev in enumerate(rec.get("evidence_list") or []):
                doc_id = article_id(ev)
                if doc_id not in docs:
                    bad.add(f"article {doc_id!r} is not in the corpus", record=f"{i} (id {rec['id']})", field=f"evidence_list[{j}]")
                    continue
                gold.append(doc_id)
                found = locate(ev["fact"], docs[doc_id].text)
                if found is None:
                    unlocated += 1
                else:
                    spans.append(Span(doc_id, *found))
            queries.append(
                Query(
                    query_id=str(rec["id"]),
                    question=rec["question"],
                    answers=(rec["answer"],),
                    gold_spans=tuple(dict.fromkeys(spans)),
                    gold_doc_ids=tuple(dict.fromkeys(gold)),
                    metadata={"question_type": rec.get("question_type")},
                )
            )
        bad.raise_if_any()
        if unlocated:
            log.warning("%d evidence facts were not found in their articles: their articles stay gold, without spans", unlocated)
        self._description["unlocated_evidence_facts"] = unlocated
        return list(docs.values()), queries

    def _articles(self, corpus: list[Any]) -> dict[str, Document]:
        """One Document per article; a url (or title) given twice is an error, never a silent replacement."""
        docs: dict[str, Document] = {}
        where = self.corpus_path or f"{self.hub_id}:corpus"
        bad = RecordErrors(where)
        for i, a in enumerate(corpus, start=1):
            with bad.collect():
                if not isinstance(a, dict) or not (isinstance(a.get("url"), str) or isinstance(a.get("title"), str)):
                    raise DataError(where, "expected an object with a url or title", record=i)
                body = a.get("body")
                if not isinstance(body, str):
                    raise DataError(where, "missing or not a string", record=f"{i} ({article_id(a)})", field="body")
                doc_id = article_id(a)
                if doc_id in docs:
                    raise DataError(where, f"article {doc_id!r} appears twice", record=i, field="url")
                docs[doc_id] = Document(doc_id, body, {"title": a.get("title")})
        bad.raise_if_any()
        return docs

    @staticmethod
    def _docs_from_evidence(records: list[dict[str, Any]]) -> dict[str, Document]:
        facts: dict[str, list[str]] = {}
        titles: dict[str, str] = {}
        for rec in records:
            for ev in rec.get("evidence_list") or []:
                doc_id = article_id(ev)
                titles.setdefault(doc_id, ev.get("title", ""))
                if ev["fact"] not in facts.setdefault(doc_id, []):
                    facts[doc_id].append(ev["fact"])
        return {
            doc_id: Document(doc_id, "\n\n".join(fs), {"title": titles[doc_id], "facts": len(fs)}) for doc_id, fs in facts.items()
        }
