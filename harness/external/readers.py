"""Outputs of another RAG system (LangChain, LlamaIndex, a service), read so ragsweep can score them against a suite's
gold: per query, the ranked passages it retrieved and, optionally, its answer.

Three formats (``outputs.format``, or ``auto``: decided by the content, never the file's name, and logged):

- ``jsonl``: one object per line (or a JSON list of them), ``{"query_id", "passages": [...], "answer"?}``; a passage
  is ``{"doc_id", "start", "end"}`` (character offsets; a ``text`` beside them must read the same, whitespace aside) or
  ``{"text"}`` (with an optional ``doc_id``), located in the corpus; optional ``score`` and ``rank`` (ranks must be distinct; without them, list order is rank order).
- ``trec``: a TREC run file (``query_id Q0 item_id rank score tag``); an item is a document id (the whole document
  is the passage) or ``doc_id#start-end``; trec_eval's order (score descending).
- ``ragas``: ragas' evaluation records (a JSON list or JSONL of ``question``/``user_input``,
  ``contexts``/``retrieved_contexts``, ``answer``/``response``; ``ground_truth`` is not read: the suite's gold is the
  gold), matched to the suite's queries by question text; contexts are located in the corpus.

Every fault is one line naming the file, the record and the field: an unknown query id or question, a query given
twice, a duplicate rank or passage, offsets outside the document, passage text that is not in the corpus; a file
with no outputs at all is refused, not scored as a system that retrieved nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import logging

from ragsweep.errors import DataError
from ragsweep.data_files import read_text
from ragsweep.types import Document, Query

log = logging.getLogger("ragsweep.external")
FORMATS = ("auto", "jsonl", "trec", "ragas")
OFFSETS_ID = re.compile(r"^(?P<doc>.+)#(?P<start>\d+)-(?P<end>\d+)$")


@dataclass(frozen=True)
class Passage:
    doc_id: str
    start: int
    end: int
    score: float | None = None
    located: str = "offsets"  # offsets | document | exact text | whitespace-insensitive text


@dataclass(frozen=True)
class ExternalOutput:
    query_id: str
    passages: tuple[Passage, ...]
    answer: str | None


class Corpus:
    """Documents by id, and passage text located in them: the first exact occurrence (the given document first, else
    documents in corpus order), else the first occurrence with any run of whitespace matching any other."""

    def __init__(self, documents: list[Document]):
        self.documents = documents
        self.by_id = {d.doc_id: d for d in documents}

    def locate(self, text: str, doc_id: str | None) -> tuple[str, int, int, str] | None:
        pool = [self.by_id[doc_id]] if doc_id is not None else self.documents
        for doc in pool:
            at = doc.text.find(text)
            if at >= 0:
                return doc.doc_id, at, at + len(text), "exact text"
        words = text.split()
        if not words:
            return None
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
        for doc in pool:
            found = pattern.search(doc.text)
            if found:
                return doc.doc_id, found.start(), found.end(), "whitespace-insensitive text"
        return None


RAGSWEEP_KEYS = {"query_id", "passages"}
RAGAS_KEYS = {"question", "user_input"}


def _json_kind(record: Any) -> str | None:
    """jsonl for a ragsweep record, ragas for a ragas record, else None."""
    if not isinstance(record, dict):
        return None
    if RAGSWEEP_KEYS & set(record):
        return "jsonl"
    return "ragas" if RAGAS_KEYS & set(record) else None


def _trec_line(line: str) -> str | None:
    """Why ``line`` is not a TREC run line, else None."""
    fields = line.split()
    if len(fields) != 6:
        return f"a TREC run line has 6 fields, this one {len(fields)}"
    try:
        int(fields[3]), float(fields[4])
    except ValueError:
        return f"a TREC run line's rank and score are numbers, not {fields[3]!r} and {fields[4]!r}"
    return None


def detect_format(path: Path) -> tuple[str, str]:
    """(format, why) decided by the file's content, never its name: the first record read as JSON (a ragsweep record
    has ``query_id`` or ``passages``; a ragas record ``question`` or ``user_input``) or as a TREC run line. A file
    that is none of them is one line saying why each format failed."""
    text = read_text(path)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        return "jsonl", "empty"  # its reader says there is nothing to score
    if first[0] in "[{":
        try:
            value = json.loads(text) if first[0] == "[" else json.loads(first)
        except ValueError as err:
            if first[0] == "{":
                return "jsonl", "its first line opens a JSON object"  # the reader names the bad line
            raise DataError(path, f"not valid JSON ({err}); a ragsweep or ragas list must be one JSON array") from None
        record = (value[0] if value else {}) if isinstance(value, list) else value
        kind = _json_kind(record)
        if kind is None and value != []:
            keys = sorted(record)[:6] if isinstance(record, dict) else type(record).__name__
            raise DataError(path, f"its first record is neither a ragsweep record (query_id, passages) nor a ragas record (question or "
                                  f"user_input): it holds {keys}")
        kind = kind or "jsonl"
        return kind, f"its first record has {'query_id or passages' if kind == 'jsonl' else 'question or user_input'}"
    problem = _trec_line(first)
    if problem is None:
        return "trec", "its first line is a TREC run line (query Q0 item rank score tag)"
    raise DataError(path, f"not ragsweep JSONL or ragas records (the first line is not JSON) and not a TREC run ({problem}): "
                          f"first line {first[:60]!r}", record="line 1")


def json_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(record label, value) for a JSON list or a JSONL file."""
    text = read_text(path)
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except ValueError as err:
            raise DataError(path, f"not valid JSON ({err})") from None
        for i, value in enumerate(values):
            yield f"{i}", value
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except ValueError as err:
            raise DataError(path, f"not valid JSON ({err})", record=f"line {number}") from None


def _int(value: Any, path: Path, record: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(path, f"expected an integer, got {value!r}", record=record, field=field)
    return value


def _score(value: Any, path: Path, record: str, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise DataError(path, f"expected a number, got {value!r}", record=record, field=field)
    return float(value)


def _span(corpus: Corpus, doc_id: str, start: int, end: int, path: Path, record: str, field: str) -> None:
    if doc_id not in corpus.by_id:
        raise DataError(path, f"document {doc_id!r} is not in the suite's corpus", record=record, field=field)
    length = len(corpus.by_id[doc_id].text)
    if not 0 <= start < end <= length:
        raise DataError(path, f"offsets [{start}, {end}) are not a passage of {doc_id!r} ({length} characters)", record=record, field=field)


def _located(corpus: Corpus, text: Any, doc_id: Any, path: Path, record: str, field: str, score: float | None) -> Passage:
    if not isinstance(text, str) or not text.strip():
        raise DataError(path, f"expected passage text, got {text!r}", record=record, field=field)
    if doc_id is not None and doc_id not in corpus.by_id:
        raise DataError(path, f"document {doc_id!r} is not in the suite's corpus", record=record, field=field)
    found = corpus.locate(text, doc_id)
    if found is None:
        shown = " ".join(text.split())[:60]
        raise DataError(path, f"passage text not found in the {'document ' + repr(doc_id) if doc_id else 'corpus'}: {shown!r}", record=record, field=field)
    return Passage(found[0], found[1], found[2], score, found[3])


def _jsonl_passage(corpus: Corpus, raw: Any, path: Path, record: str, field: str) -> tuple[Passage, int | None]:
    if not isinstance(raw, dict):
        raise DataError(path, "expected an object", record=record, field=field)
    score = _score(raw.get("score"), path, record, f"{field}.score")
    rank = None if raw.get("rank") is None else _int(raw["rank"], path, record, f"{field}.rank")
    if "start" in raw or "end" in raw:
        doc_id = raw.get("doc_id")
        if not isinstance(doc_id, str):
            raise DataError(path, f"a passage by offsets needs its doc_id, got {doc_id!r}", record=record, field=f"{field}.doc_id")
        start, end = _int(raw.get("start"), path, record, f"{field}.start"), _int(raw.get("end"), path, record, f"{field}.end")
        _span(corpus, doc_id, start, end, path, record, field)
        text = raw.get("text")
        if text is not None and (not isinstance(text, str) or text.split() != corpus.by_id[doc_id].text[start:end].split()):
            shown = " ".join(corpus.by_id[doc_id].text[start:end].split())[:60]
            raise DataError(path, f"the passage's text {str(text)[:60]!r} is not what its offsets [{start}, {end}) of {doc_id!r} hold "
                                  f"({shown!r}): give one of them, or both in agreement", record=record, field=f"{field}.text")
        return Passage(doc_id, start, end, score), rank
    return _located(corpus, raw.get("text"), raw.get("doc_id"), path, record, f"{field}.text", score), rank


def read_jsonl(path: Path, corpus: Corpus) -> Iterator[tuple[str, str, tuple[Passage, ...], str | None]]:
    for record, value in json_records(path):
        if not isinstance(value, dict):
            raise DataError(path, "expected an object", record=record)
        qid = value.get("query_id", value.get("id"))
        if not isinstance(qid, (str, int)) or isinstance(qid, bool):
            raise DataError(path, f"expected a query id, got {qid!r}", record=record, field="query_id")
        raw = value.get("passages")
        if not isinstance(raw, list):
            raise DataError(path, f"expected a list of passages, got {type(raw).__name__}", record=record, field="passages")
        ranked = [_jsonl_passage(corpus, p, path, record, f"passages[{i}]") for i, p in enumerate(raw)]
        ranks = [r for _, r in ranked]
        if any(r is not None for r in ranks):
            if any(r is None for r in ranks) or len(set(ranks)) != len(ranks):
                dup = next((r for r in ranks if r is None or ranks.count(r) > 1), None)
                raise DataError(path, f"ranks must be given for every passage and be distinct (rank {dup!r} is not)", record=record, field="passages")
            ranked.sort(key=lambda pr: pr[1])  # type: ignore[arg-type, return-value]
        answer = value.get("answer")
        if answer is not None and not isinstance(answer, str):
            raise DataError(path, f"expected text, got {type(answer).__name__}", record=record, field="answer")
        yield record, str(qid), tuple(p for p, _ in ranked), answer


def read_trec(path: Path, corpus: Corpus) -> Iterator[tuple[str, str, tuple[Passage, ...], str | None]]:
    from ragsweep.store.trec_files import read_scored_run

    for qid, items in read_scored_run(path).items():
        passages = []
        for item, score in items:
            record = f"query {qid}"
            offsets = OFFSETS_ID.match(item)
            if item in corpus.by_id:
                passages.append(Passage(item, 0, len(corpus.by_id[item].text), score, "document"))
            elif offsets:
                doc_id, start, end = offsets["doc"], int(offsets["start"]), int(offsets["end"])
                _span(corpus, doc_id, start, end, path, record, "item_id")
                passages.append(Passage(doc_id, start, end, score))
            else:
                raise DataError(path, f"item {item!r} is neither a document id of the suite nor doc_id#start-end", record=record, field="item_id")
        yield f"query {qid}", qid, tuple(passages), None


def read_ragas(path: Path, corpus: Corpus, queries: list[Query]) -> Iterator[tuple[str, str, tuple[Passage, ...], str | None]]:
    by_question: dict[str, list[str]] = {}
    for q in queries:
        by_question.setdefault(" ".join(q.question.split()), []).append(q.query_id)
    for record, value in json_records(path):
        if not isinstance(value, dict):
            raise DataError(path, "expected an object", record=record)
        field = "question" if "question" in value else "user_input"
        question = value.get(field)
        if not isinstance(question, str):
            raise DataError(path, f"expected the question text, got {question!r}", record=record, field=field)
        ids = by_question.get(" ".join(question.split()), [])
        if len(ids) != 1:
            problem = "is not a question of the suite" if not ids else f"matches {len(ids)} questions of the suite ({', '.join(ids[:3])})"
            raise DataError(path, f"question {question[:80]!r} {problem}", record=record, field=field)
        contexts_field = "contexts" if "contexts" in value else "retrieved_contexts"
        contexts = value.get(contexts_field)
        if not isinstance(contexts, list):
            raise DataError(path, f"expected a list of context texts, got {type(contexts).__name__}", record=record, field=contexts_field)
        passages = tuple(_located(corpus, text, None, path, record, f"{contexts_field}[{i}]", None) for i, text in enumerate(contexts))
        answer_field = "answer" if "answer" in value else "response"
        answer = value.get(answer_field)
        if answer is not None and not isinstance(answer, str):
            raise DataError(path, f"expected text, got {type(answer).__name__}", record=record, field=answer_field)
        yield record, ids[0], passages, answer


def read_outputs(path: Path, fmt: str, queries: list[Query], documents: list[Document], limited: bool = False) -> list[ExternalOutput]:
    """The file's outputs, checked against the suite: each names a query of it once, passages are in its corpus and
    distinct. With ``limited`` (task.limit cut the suite) outputs for questions it left out are skipped."""
    if fmt not in FORMATS:
        raise DataError(path, f"unknown outputs.format {fmt!r}; one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise DataError(path, "file not found (outputs.path)")
    if fmt == "auto":
        fmt, why = detect_format(path)
        log.info("outputs %s read as %s: %s", path, fmt, why)
    corpus = Corpus(documents)
    records = read_trec(path, corpus) if fmt == "trec" else read_ragas(path, corpus, queries) if fmt == "ragas" else read_jsonl(path, corpus)
    known = {q.query_id for q in queries}
    out: dict[str, ExternalOutput] = {}
    read = 0
    for record, qid, passages, answer in records:
        read += 1
        if qid not in known:
            if limited:
                continue
            raise DataError(path, f"query {qid!r} is not in the suite (ids must match the suite's query ids)", record=record, field="query_id")
        if qid in out:
            raise DataError(path, f"query {qid!r} is given twice", record=record, field="query_id")
        spans = [(p.doc_id, p.start, p.end) for p in passages]
        if len(set(spans)) != len(spans):
            twice = next(s for s in spans if spans.count(s) > 1)
            raise DataError(path, f"passage {twice[0]}#{twice[1]}-{twice[2]} is ranked twice", record=record, field="passages")
        out[qid] = ExternalOutput(qid, passages, answer)
    if not read:  # scored, it would be a run that retrieved nothing for every query
        raise DataError(path, "no outputs in the file (empty or blank lines only): nothing to score")
    if not out:
        raise DataError(path, f"none of its {read} outputs is for the {len(queries)} questions task.limit kept")
    return [out[q.query_id] for q in queries if q.query_id in out]
