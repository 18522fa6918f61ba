"""A TREC qrels file as gold for any suite: ``task.qrels=<file>`` (``query_id 0 doc_id grade`` per line).

Each query the file labels gets the file's graded document labels as its gold (grade > 0 relevant; the grades are
nDCG's gains and the assessor's human labels), replacing the suite's own document gold; its spans and answers stay.
Queries the file does not label keep their gold and are counted in the load's log line. A query id or document id
the suite does not have is one line naming the qrels line: the ids must match the suite's. A file with no labels at
all is an error, not a run on the suite's own gold.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from ragsweep.errors import DataError
from ragsweep.store.trec_files import read_qrels
from ragsweep.types import Document, Query

log = logging.getLogger(__name__)


def apply_qrels(queries: list[Query], documents: list[Document], path: Path, limited: bool = False) -> list[Query]:
    """The file's labels as gold; with ``limited`` (``task.limit`` cut the suite) labels of questions it left out are
    skipped, not an error."""
    qrels = read_qrels(path)
    if not qrels:  # the suite's own gold would stand while the command line says otherwise
        raise DataError(path, "no labels in the file (empty or blank lines only): task.qrels must label at least one query")
    known_queries = {q.query_id for q in queries}
    known_docs = {d.doc_id for d in documents}
    for qid, labels in qrels.items():
        if qid not in known_queries and limited:
            continue
        if qid not in known_queries:
            raise DataError(path, f"query {qid!r} is not in the suite (qrels ids must match the suite's query ids)", record=f"query {qid}")
        unknown = sorted(set(labels) - known_docs)
        if unknown:
            raise DataError(path, f"document {unknown[0]!r} is not in the suite's corpus ({len(unknown)} unknown)", record=f"query {qid}")
    untouched = sum(1 for q in queries if q.query_id not in qrels)
    if untouched:
        log.info("%s: %d of %d queries have no labels there and keep the suite's gold", path.name, untouched, len(queries))
    return [
        replace(q, gold_doc_ids=tuple(sorted(d for d, g in qrels[q.query_id].items() if g > 0)),
                gold_doc_grades=tuple(sorted(qrels[q.query_id].items())))
        if q.query_id in qrels else q
        for q in queries
    ]
