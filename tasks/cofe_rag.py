"""CoFE-RAG's released data set (``datasets/docdata/rag_dataset_{en,zh}.json``): ``{"examples": [{"query_type",
"query", "reference_answer", "file_name", "coarse_keywords", "fine_keywords"}]}`` over a folder of documents.

CoFE-RAG's documents are PDF, Word, Excel and PowerPoint files; this loader reads text, so convert them
first (one ``<name>.txt`` or ``.md`` per document, beside or instead of the original). An example's gold
document is the corpus file named ``file_name``, or the one text file with its stem. Question ids are the
example's position (``cofe-0000``...). The keywords are scored as CoFE-RAG scores them (docs/metrics.md#keyword-coverage).
"""

from __future__ import annotations

from pathlib import Path

from ragsweep.errors import DataError
from ragsweep.registry import TASKS
from ragsweep.tasks.base import RecordErrors, Task, read_json, require_file, resolve_path, text_field
from ragsweep.tasks.generic import read_corpus_folder
from ragsweep.tasks.keyword_file import cofe_rag_examples
from ragsweep.types import Document, Query


@TASKS.register("cofe_rag")
class CofeRagTask(Task):
    headline_metric = "keyword_recall@4"
    breakdown_keys = ("query_type",)

    def __init__(self, path: str, dataset: str = "rag_dataset_en.json", corpus: str = "docs", suffixes: tuple[str, ...] | list[str] = (".txt", ".md"), language: str = "en"):
        self.root = resolve_path(path)
        self.questions_path = self.root / dataset
        self.corpus_dir = self.root / corpus
        self.suffixes, self.language = tuple(suffixes), language

    def data_files(self) -> list[Path]:
        return [require_file(self.questions_path), *([self.corpus_dir] if self.corpus_dir.is_dir() else [])]

    def load(self) -> tuple[list[Document], list[Query]]:
        data = read_json(self.questions_path)
        if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
            raise DataError(self.questions_path, "expected CoFE-RAG's {\"examples\": [...]}", field="examples")
        keywords = cofe_rag_examples(self.questions_path, data)
        docs = read_corpus_folder(self.corpus_dir, self.suffixes)
        by_stem: dict[str, list[str]] = {}
        for d in docs:
            by_stem.setdefault(Path(d.doc_id).stem, []).append(d.doc_id)
        ids = {d.doc_id for d in docs}
        queries = []
        bad = RecordErrors(self.questions_path)
        for i, ex in enumerate(data["examples"]):
            with bad.collect():
                record = f"examples[{i}]"
                question = text_field(ex, "query", self.questions_path, record)
                file_name = text_field(ex, "file_name", self.questions_path, record)
                found = [file_name] if file_name in ids else by_stem.get(Path(file_name).stem, [])
                if len(found) != 1:
                    why = "no text file for it in the corpus (convert it to .txt or .md)" if not found else f"{len(found)} corpus files share its stem"
                    raise DataError(self.questions_path, f"gold document {file_name!r}: {why}", record=record, field="file_name")
                answer = ex.get("reference_answer")
                coarse, fine, flat = keywords[question]
                queries.append(Query(
                    query_id=f"cofe-{i:04d}", question=question, answers=(answer,) if isinstance(answer, str) and answer.strip() else (),
                    gold_doc_ids=tuple(found), keywords_coarse=coarse, keywords_fine=fine,
                    metadata={"query_type": ex.get("query_type"), **({"keywords_flat": True} if flat else {})},
                ))
        bad.raise_if_any()
        return docs, queries
