"""HotpotQA-shaped multi-hop QA: HotpotQA and 2WikiMultihopQA in their original JSON, FlashRAG's JSONL
copies, and the hub's hotpotqa/hotpot_qa rows.

Every record has a question, answer(s), ``supporting_facts`` (title, sentence index) and a ``context`` of
(title, sentences). The three layouts differ only in field shapes (lists of pairs vs. columnar dicts,
``answer`` vs. FlashRAG's ``golden_answers`` aliases, fields under ``metadata``), which ``normalize``
reduces to one. One Document per title, its text the sentences joined as published: HotpotQA sentences
carry their own leading space and are joined as they are; 2WikiMultihopQA's carry none, so one space goes
between two sentences when neither side has whitespace (``join_sentences``). Gold: answers, supporting
titles, and each supporting sentence as a character span.

The corpus is a corpus file when given, else the union of the questions' contexts (the distractor
setting). A corpus file is {title: [sentences]}, or a passage list [{"title", "text"}] as HippoRAG and
others publish the 2Wiki / HotpotQA / MuSiQue corpora. Passages have no sentence boundaries: a supporting
sentence is found by its text (from the question's context) inside its passage; where it cannot be found,
the gold span is the whole passage, and how often that happened is counted in run.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragsweep.errors import DataError
from ragsweep.registry import TASKS
from ragsweep.types import Document, Query, Span
from ragsweep.data_files import RecordErrors, read_json, read_records, text_field
from ragsweep.tasks.base import Task, resolve_path
from ragsweep.tasks.hub import load_hub_rows


@dataclass(frozen=True)
class MultiHopRecord:
    qid: str
    question: str
    answers: tuple[str, ...]
    supporting: list[tuple[str, int]]
    context: list[tuple[str, list[str]]]
    metadata: dict[str, Any]


def _pairs(value: Any, first: str, second: tuple[str, ...]) -> list[tuple[Any, Any]]:
    """[[a, b], ...] or {first: [a...], second: [b...]} (hub / FlashRAG columnar form) -> [(a, b)]."""
    if isinstance(value, dict):
        other = next((value[k] for k in second if k in value), None)
        if first not in value or other is None:
            raise ValueError(f"expected keys {first!r} and one of {second}")
        return list(zip(value[first], other))
    return [(item[0], item[1]) for item in value or []]


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise TypeError(f"{what}: expected a list of strings")
    return value


def normalize(rec: dict[str, Any], source: object, record: object) -> MultiHopRecord:
    """One record in any of the three layouts; a bad field is a DataError naming it."""
    meta = rec.get("metadata") or {}
    if not isinstance(meta, dict):
        raise DataError(source, f"expected an object, got {type(meta).__name__}", record=record, field="metadata")
    field = lambda name: rec[name] if name in rec else meta.get(name)  # noqa: E731
    id_key = "_id" if "_id" in rec else "id"
    qid = rec.get(id_key)
    if not isinstance(qid, (str, int)) or isinstance(qid, bool) or not str(qid).strip():
        raise DataError(source, "missing or not a string id", record=record, field=id_key)
    question = text_field(rec, "question", source, record)
    answers = rec.get("golden_answers") or ([rec["answer"]] if rec.get("answer") is not None else [])
    if not isinstance(answers, list) or not answers or not all(isinstance(a, (str, int, float)) for a in answers):
        raise DataError(source, "missing, empty or not a list of strings", record=record, field="golden_answers" if "golden_answers" in rec else "answer")
    for name in ("supporting_facts", "context"):
        if field(name) is not None and not isinstance(field(name), (list, dict)):
            raise DataError(source, f"expected a list, got {type(field(name)).__name__}", record=record, field=name)
    try:
        supporting = [(_title(t), _index(i)) for t, i in _pairs(field("supporting_facts"), "title", ("sent_id",))]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise DataError(source, f"expected [title, sentence index] pairs ({err})", record=record, field="supporting_facts") from None
    try:
        context = [(_title(t), _strings(s, str(t))) for t, s in _pairs(field("context"), "title", ("sentences", "content"))]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise DataError(source, f"expected [title, [sentences]] pairs ({err})", record=record, field="context") from None
    extra = {k: field(k) for k in ("type", "level", "evidences") if field(k) is not None}
    return MultiHopRecord(str(qid), question, tuple(str(a) for a in answers), supporting, context, extra)


def _title(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"title {value!r} is not a string")
    return value


def _index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"sentence index {value!r} is not an integer")
    return value


def join_sentences(sentences: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The document text and each sentence's (start, end) in it, whitespace excluded. Sentences are
    concatenated as published, with one space added only where two would otherwise touch."""
    parts: list[str] = []
    bounds, pos = [], 0
    for s in sentences:
        if parts and s[:1] and not s[:1].isspace() and not parts[-1][-1:].isspace():
            parts.append(" ")
            pos += 1
        lead = len(s) - len(s.lstrip())
        bounds.append((pos + lead, pos + lead + len(s.strip())))
        parts.append(s)
        pos += len(s)
    return "".join(parts), bounds


def sentence_spans(doc_id: str, sentences: list[str]) -> tuple[str, list[Span]]:
    text, bounds = join_sentences(sentences)
    return text, [Span(doc_id, start, end) for start, end in bounds]


@TASKS.register("hotpotqa")
class HotpotQATask(Task):
    version = "2"  # 2: 2Wiki sentences joined with a space; passage-list corpora
    breakdown_keys = ("type", "level")

    def __init__(
        self,
        path: str | None = None,
        questions: str = "questions.json",
        corpus: str | None = "corpus.json",
        hub_id: str | None = None,
        hub_config: str | None = None,
        split: str = "validation",
        limit: int | None = None,
        language: str = "en",
    ):
        self.root = resolve_path(path) if path else None
        self.questions_path = self.root / questions if self.root else None
        self.corpus_path = self.root / corpus if self.root and corpus else None
        self.hub_id, self.hub_config, self.split, self.limit, self.language = hub_id, hub_config, split, limit, language
        self._description: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return self._description

    def data_files(self) -> list[Path]:
        if self.questions_path is None:
            return []
        return [self.questions_path] + ([self.corpus_path] if self.corpus_path else [])

    def _source(self) -> tuple[str, list[dict[str, Any]]]:
        if self.questions_path is not None:
            return str(self.questions_path), read_records(self.questions_path)
        rows = load_hub_rows(self.hub_id, self.hub_config, self.split, "questions.json (HotpotQA format)")
        return f"{self.hub_id}:{self.split}", rows

    def load(self) -> tuple[list[Document], list[Query]]:
        self._description = {}
        source, raw = self._source()
        if self.limit and self.limit < len(raw):
            self._description.update(limit=self.limit, questions_in_file=len(raw))
            raw = raw[: self.limit]
        records = []
        bad = RecordErrors(source)
        for i, rec in enumerate(raw, start=1):
            with bad.collect():
                records.append(normalize(rec, source, f"{i} (_id {rec.get('_id', rec.get('id', '?'))})"))
        bad.raise_if_any()
        corpus, passages = self._corpus() if self.corpus_path else ({}, {})
        conflicts = 0
        if not self.corpus_path:
            for rec in records:
                for title, sentences in rec.context:
                    conflicts += corpus.setdefault(title, sentences) != sentences
        # Without a corpus file, a title whose sentences differ between questions' contexts keeps its first
        # version; how often that happened is counted in run.json (never silently).
        if conflicts:
            self._description["context_title_conflicts"] = conflicts
        docs, spans_of = [], {}
        for title, sentences in corpus.items():
            text, spans = sentence_spans(title, sentences)
            docs.append(Document(title, text, {"title": title}))
            spans_of[title] = spans
        docs += [Document(title, text, {"title": title}) for title, text in passages.items()]
        self._whole_passage_gold = 0
        queries = []
        bad = RecordErrors(source)
        for i, rec in enumerate(records, start=1):
            with bad.collect():
                queries.append(self._query(rec, i, spans_of, source, passages))
        bad.raise_if_any()
        if self._whole_passage_gold:
            self._description["supporting_sentences_not_found_whole_passage_gold"] = self._whole_passage_gold
        return docs, queries

    def _corpus(self) -> tuple[dict[str, list[str]], dict[str, str]]:
        """({title: [sentences]}, {}) from a sentence corpus, or ({}, {title: text}) from a passage list
        [{"title", "text"}]; a title given twice is an error either way."""
        assert self.corpus_path is not None
        corpus = read_json(self.corpus_path)
        bad = RecordErrors(self.corpus_path)
        if isinstance(corpus, list):
            passages: dict[str, str] = {}
            for i, p in enumerate(corpus, start=1):
                if not isinstance(p, dict) or not isinstance(p.get("title"), str) or not isinstance(p.get("text"), str):
                    bad.add("expected {\"title\": str, \"text\": str}", record=i)
                elif p["title"] in passages:
                    bad.add(f"title {p['title']!r} appears twice (HotpotQA-style suites name documents by title)", record=i, field="title")
                else:
                    passages[p["title"]] = p["text"]
            bad.raise_if_any()
            return {}, passages
        if not isinstance(corpus, dict):
            raise DataError(self.corpus_path, f"expected {{title: [sentences]}} or [{{title, text}}], got {type(corpus).__name__}")
        for title, sentences in corpus.items():
            if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
                bad.add("expected a list of sentence strings", record=f"title {title!r}")
        bad.raise_if_any()
        return corpus, {}

    def _passage_span(self, rec: MultiHopRecord, title: str, sent_idx: int, text: str) -> Span:
        """A supporting sentence located in its passage by its text; the whole passage when it cannot be."""
        sentences = dict(rec.context).get(title) or []
        sentence = sentences[sent_idx].strip() if 0 <= sent_idx < len(sentences) else ""
        start = text.find(sentence) if sentence else -1
        if start < 0:
            self._whole_passage_gold += 1
            return Span(title, 0, len(text))
        return Span(title, start, start + len(sentence))

    def _query(self, rec: MultiHopRecord, i: int, spans_of: dict[str, list[Span]], source: str, passages: dict[str, str]) -> Query:
        record = f"{i} (_id {rec.qid})"
        spans, titles = [], []
        for j, (title, sent_idx) in enumerate(rec.supporting):
            field = f"supporting_facts[{j}]"
            if title in passages:
                spans.append(self._passage_span(rec, title, sent_idx, passages[title]))
                titles.append(title)
                continue
            if title not in spans_of:
                raise DataError(source, f"title {title!r} is not in the corpus", record=record, field=field)
            if not 0 <= sent_idx < len(spans_of[title]):
                raise DataError(
                    source, f"sentence {sent_idx} out of range: {title!r} has {len(spans_of[title])}", record=record, field=field
                )
            spans.append(spans_of[title][sent_idx])
            titles.append(title)
        return Query(
            query_id=rec.qid,
            question=rec.question,
            answers=rec.answers,
            gold_spans=tuple(dict.fromkeys(spans)),  # two facts found as one whole passage are one span
            gold_doc_ids=tuple(dict.fromkeys(titles)),
            metadata=rec.metadata,
        )
