"""CoFE-RAG's released data set (``datasets/docdata/rag_dataset_{en,zh}.json``): ``{"examples": [{"query_type",
"query", "reference_answer", "file_name", "coarse_keywords", "fine_keywords"}]}`` over a folder of documents.

CoFE-RAG's documents are PDF, Word, Excel and PowerPoint files: PDF and .docx files are read as they are
(ragsweep.tasks.documents), text files too; others need converting (one ``<name>.txt`` or ``.md`` per document).
An example's gold document is the corpus file named ``file_name``, or the one file with its stem. A query whose
document the folder does not hold is kept, with no gold document (``metadata.missing_document``), counted in
run.json ``task.missing_documents`` and named in a warning: its keyword metrics are scored, its document metrics
are not. Question ids are the example's position (``cofe-0000``...), so a question text the file repeats (the
released English file has two) is two queries, counted in run.json ``task.repeated_query_texts``. The keywords
are scored as CoFE-RAG scores them (docs/metrics.md#keyword-coverage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import logging

from ragsweep.errors import DataError
from ragsweep.registry import TASKS
from ragsweep.data_files import RecordErrors, read_json, require_file, text_field
from ragsweep.tasks.base import Task, first_questions, resolve_path
from ragsweep.tasks.generic import read_corpus_folder
from ragsweep.tasks.keyword_file import cofe_rag_examples, repeated_texts
from ragsweep.types import Document, Query

log = logging.getLogger(__name__)

@TASKS.register("cofe_rag")
class CofeRagTask(Task):
    headline_metric = "keyword_recall@4"
    breakdown_keys = ("query_type",)

    def __init__(self, path: str, dataset: str = "rag_dataset_en.json", corpus: str = "docs",
                 suffixes: tuple[str, ...] | list[str] = (".txt", ".md", ".pdf", ".docx"), language: str = "en", limit: int | None = None):
        self.root = resolve_path(path)
        self.questions_path = self.root / dataset
        self.corpus_dir = self.root / corpus
        self.suffixes, self.language, self.limit = tuple(suffixes), language, limit
        self._description: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        """How many examples repeat an earlier example's question text (each is kept as its own query)."""
        return self._description

    def data_files(self) -> list[Path]:
        return [require_file(self.questions_path), *([self.corpus_dir] if self.corpus_dir.is_dir() else [])]

    def load(self) -> tuple[list[Document], list[Query]]:
        data = read_json(self.questions_path)
        if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
            raise DataError(self.questions_path, "expected CoFE-RAG's {\"examples\": [...]}", field="examples")
        examples = cofe_rag_examples(self.questions_path, data)
        self._description = {"repeated_query_texts": repeated_texts(examples)}
        docs = read_corpus_folder(self.corpus_dir, self.suffixes)
        by_stem: dict[str, list[str]] = {}
        for d in docs:
            by_stem.setdefault(Path(d.doc_id).stem, []).append(d.doc_id)
        ids = {d.doc_id for d in docs}
        queries = []
        missing: list[str] = []
        bad = RecordErrors(self.questions_path)
        for i, ex in enumerate(data["examples"]):
            with bad.collect():
                record = f"examples[{i}]"
                question = text_field(ex, "query", self.questions_path, record)
                file_name = text_field(ex, "file_name", self.questions_path, record)
                found = [file_name] if file_name in ids else by_stem.get(Path(file_name).stem, [])
                if len(found) > 1:
                    raise DataError(self.questions_path, f"gold document {file_name!r}: {len(found)} corpus files share its stem", record=record, field="file_name")
                if not found:
                    missing.append(file_name)
                answer = ex.get("reference_answer")
                coarse, fine, flat = examples[i][1]
                queries.append(Query(
                    query_id=f"cofe-{i:04d}", question=question, answers=(answer,) if isinstance(answer, str) and answer.strip() else (),
                    gold_doc_ids=tuple(found), keywords_coarse=coarse, keywords_fine=fine,
                    metadata={"query_type": ex.get("query_type"), **({"keywords_flat": True} if flat else {}),
                              **({"missing_document": file_name} if not found else {})},
                ))
        bad.raise_if_any()
        if missing:
            self._description["missing_documents"] = len(missing)
            log.warning("%s: %d of %d queries name a document the corpus folder does not hold (first: %s); they have no gold "
                        "document and are unscored by document metrics (records: metadata.missing_document)",
                        self.questions_path.name, len(missing), len(queries), missing[0])
        return docs, first_questions(queries, self.limit, self._description)
