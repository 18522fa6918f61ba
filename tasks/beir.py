"""BEIR data sets as published: ``corpus.jsonl`` ({_id, title, text}), ``queries.jsonl`` ({_id, text}) and
``qrels/<split>.tsv`` (header ``query-id corpus-id score``, tab-separated).

As BEIR evaluates them: a split's questions are the queries its qrels judge (the count of queries with no
judgement in the split is in run.json), a document is relevant when its score is above 0, and nDCG uses the
graded scores as gains (trec_eval's linear gain, as pytrec_eval computes it for BEIR). The title is kept
apart from the text (Document.metadata) and prefixed to it only when ``title_in_text`` is set, as BEIR's
dense models concatenate them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError, DataError
from ragsweep.registry import TASKS
from ragsweep.data_files import RecordErrors, inside, numbered_records, read_text, require_file, text_field
from ragsweep.tasks.base import Task, resolve_path
from ragsweep.tasks.generic import read_corpus_jsonl, record_id
from ragsweep.types import Document, Query

QRELS_HEADER = ("query-id", "corpus-id", "score")


def read_qrels(path: Path) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str], int]]:
    """(query id -> {doc id: graded score}, (query id, doc id) -> its line number); a pair judged twice is an
    error."""
    rows = list(csv.reader(io.StringIO(read_text(require_file(path), bom=True), newline=""), delimiter="\t"))
    if not rows or tuple(c.strip() for c in rows[0]) != QRELS_HEADER:
        raise DataError(path, f"expected the header {' '.join(QRELS_HEADER)} (tab-separated)", record="line 1")
    qrels: dict[str, dict[str, int]] = {}
    lines: dict[tuple[str, str], int] = {}
    bad = RecordErrors(path)
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 3:
            bad.add(f"expected 3 tab-separated fields, got {len(row)}", record=f"line {n}")
            continue
        qid, did, score = (c.strip() for c in row)
        try:
            grade = int(score)
        except ValueError:
            bad.add(f"score {score!r} is not an integer", record=f"line {n}", field="score")
            continue
        if did in qrels.setdefault(qid, {}):
            bad.add(f"query {qid!r} judges document {did!r} twice", record=f"line {n}")
        qrels[qid][did] = grade
        lines.setdefault((qid, did), n)
    bad.raise_if_any()
    return qrels, lines


@TASKS.register("beir")
class BeirTask(Task):
    headline_metric = "doc_ndcg@10"

    def __init__(self, path: str, split: str = "test", title_in_text: bool = False, limit: int | None = None, language: str = "en"):
        self.root = resolve_path(path)
        self.questions_path = self.root / "queries.jsonl"
        self.corpus_path = self.root / "corpus.jsonl"
        qrels = inside(self.root / "qrels", f"{split}.tsv")
        if qrels is None:
            raise ConfigError(f"task.split {split!r} names a file outside {self.root / 'qrels'}")
        self.qrels_path = self.root / "qrels" / f"{split}.tsv"
        self.title_in_text, self.limit, self.language = title_in_text, limit, language
        self._description: dict[str, Any] = {}

    def data_files(self) -> list[Path]:
        return [require_file(p) for p in (self.questions_path, self.corpus_path, self.qrels_path)]

    def describe(self) -> dict[str, Any]:
        return self._description

    def _documents(self) -> list[Document]:
        docs = read_corpus_jsonl(self.corpus_path)
        if not self.title_in_text:
            return docs
        return [Document(d.doc_id, f"{d.metadata['title']} {d.text}" if d.metadata.get("title") else d.text, d.metadata) for d in docs]

    def load(self) -> tuple[list[Document], list[Query]]:
        qrels, lines = read_qrels(self.qrels_path)
        texts: dict[str, str] = {}
        bad = RecordErrors(self.questions_path)
        for n, rec in numbered_records(require_file(self.questions_path)):
            with bad.collect():
                qid = record_id(rec, self.questions_path, f"line {n}", ("_id",))
                if qid in texts:
                    raise DataError(self.questions_path, f"query _id {qid!r} appears twice (the later text would replace the earlier)", record=f"line {n}", field="_id")
                texts[qid] = text_field(rec, "text", self.questions_path, f"line {n} (_id {qid})")
        bad.raise_if_any()
        unknown = sorted(set(qrels) - set(texts))
        if unknown:
            first = min(lines[(q, d)] for q in unknown for d in qrels[q])
            raise DataError(self.qrels_path, f"{len(unknown)} judged queries are not in {self.questions_path.name} (first: query-id {unknown[0]})", record=f"line {first}", field="query-id")
        documents = self._documents()
        known = {d.doc_id for d in documents}
        missing = sorted((n, q, d) for (q, d), n in lines.items() if d not in known and q in texts)
        if missing:
            n, q, d = missing[0]
            raise DataError(self.qrels_path, f"document {d!r} (judged for query {q!r}) is not in {self.corpus_path.name}" + (f"; and {len(missing) - 1} more" if len(missing) > 1 else ""), record=f"line {n}", field="corpus-id")
        queries = []
        for qid in (q for q in texts if q in qrels):  # queries.jsonl order
            grades = {d: g for d, g in qrels[qid].items() if g > 0}
            queries.append(Query(
                query_id=qid, question=texts[qid], gold_doc_ids=tuple(grades),
                gold_doc_grades=tuple(grades.items()) if set(grades.values()) != {1} else (),
            ))
        judged = sum(1 for q in queries if q.gold_doc_ids)
        if not judged:
            raise DataError(self.qrels_path, f"no query of the split has a document with a score above 0: there is nothing to score ({len(queries)} judged queries, all grades 0)")
        self._description = {
            "split": self.qrels_path.stem, "queries_not_in_split": len(texts) - len(queries),
            "queries_without_relevant_documents": len(queries) - judged,  # counted as unscored by every metric
        }
        return documents, queries[: self.limit] if self.limit else queries
