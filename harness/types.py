"""The data contracts that tasks, harness and metrics share.

Every chunker returns character offsets into ``Document.text``; span metrics, section mapping and
keyword checks all rest on them, so ``Chunk`` validates that its text is the slice it claims to be.
All contracts round-trip through plain dicts (``to_dict`` / ``from_dict``) so that stage outputs can
be cached as canonical JSON.
"""

from __future__ import annotations

import operator
from dataclasses import asdict, astuple, dataclass, field
from typing import Any

from ragsweep.errors import ContractError


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in one document."""

    doc_id: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span {self.doc_id}[{self.start}:{self.end}]")

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        return cls(doc_id=d["doc_id"], text=d["text"], metadata=dict(d.get("metadata") or {}))


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def span(self) -> Span:
        return Span(self.doc_id, self.start, self.end)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(
            chunk_id=d["chunk_id"],
            doc_id=d["doc_id"],
            start=int(d["start"]),
            end=int(d["end"]),
            text=d["text"],
            metadata=dict(d.get("metadata") or {}),
        )


def as_offset(value: Any) -> int | None:
    """An integer offset (a Python or numpy integer, not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def checked_range(doc_id: str, length: int, start: Any, end: Any) -> tuple[int, int]:
    """``(start, end)`` as integers when they are a non-empty range inside a document of ``length`` characters,
    else a ContractError (whoever catches it names the chunker)."""
    s, e = as_offset(start), as_offset(end)
    if s is None or e is None:
        raise ContractError(f"document {doc_id!r}: chunk offsets must be integers, got [{start!r}, {end!r})")
    if not 0 <= s < e <= length:
        raise ContractError(f"document {doc_id!r}: chunk [{s}, {e}) is empty or outside the document of length {length}")
    return s, e


def make_chunk(doc: Document, start: int, end: int, index: int, **metadata: Any) -> Chunk:
    """The one way chunkers build a Chunk: the text is always the document slice. Bad offsets are a
    ContractError (the pipeline names the chunker)."""
    start, end = checked_range(doc.doc_id, len(doc.text), start, end)
    return Chunk(
        chunk_id=f"{doc.doc_id}#{index}",
        doc_id=doc.doc_id,
        start=start,
        end=end,
        text=doc.text[start:end],
        metadata=dict(metadata),
    )


@dataclass(frozen=True)
class Query:
    """A question with every gold field its suite carries; absent fields stay empty."""

    query_id: str
    question: str
    answers: tuple[str, ...] = ()
    gold_spans: tuple[Span, ...] = ()
    gold_doc_ids: tuple[str, ...] = ()
    keywords_coarse: tuple[str, ...] = ()
    keywords_fine: tuple[tuple[str, ...], ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    # Graded relevance (BEIR qrels): (doc id, grade) for nDCG's gains; empty means every gold doc counts 1.
    gold_doc_grades: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        grades = {"gold_doc_grades": [list(g) for g in self.gold_doc_grades]} if self.gold_doc_grades else {}
        return {
            **grades,
            "query_id": self.query_id,
            "question": self.question,
            "answers": list(self.answers),
            "gold_spans": [[s.doc_id, s.start, s.end] for s in self.gold_spans],
            "gold_doc_ids": list(self.gold_doc_ids),
            "keywords_coarse": list(self.keywords_coarse),
            "keywords_fine": [list(g) for g in self.keywords_fine],
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Query:
        return cls(
            query_id=d["query_id"],
            question=d["question"],
            answers=tuple(d.get("answers") or ()),
            gold_spans=tuple(Span(s[0], int(s[1]), int(s[2])) for s in d.get("gold_spans") or ()),
            gold_doc_ids=tuple(d.get("gold_doc_ids") or ()),
            keywords_coarse=tuple(d.get("keywords_coarse") or ()),
            keywords_fine=tuple(tuple(g) for g in d.get("keywords_fine") or ()),
            metadata=dict(d.get("metadata") or {}),
            gold_doc_grades=tuple((str(g[0]), int(g[1])) for g in d.get("gold_doc_grades") or ()),
        )


@dataclass(frozen=True)
class Retrieved:
    """A ranked list of chunk ids (best first) with the scores that ranked them."""

    query_id: str
    chunk_ids: tuple[str, ...]
    scores: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "chunk_ids": list(self.chunk_ids), "scores": list(self.scores)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Retrieved:
        return cls(d["query_id"], tuple(d["chunk_ids"]), tuple(float(s) for s in d["scores"]))


# A Generation's ``error`` when another system's outputs give no answer for the query (outputs.path): scored as an
# empty answer (0 on every answer metric, the worst on judged columns) unless outputs.missing_answers=exclude.
MISSING_ANSWER = "the outputs file gives no answer for this query"


@dataclass(frozen=True)
class Generation:
    """One answer; ``error`` is set (and ``answer`` empty) when the backend failed for this query, an empty
    reply included."""

    query_id: str
    answer: str
    context_chunk_ids: tuple[str, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None
    context_dropped: int = 0  # chunks of the top context_k left out to fit the context token budget
    truncated: bool = False  # the backend returned more than max_tokens: the answer was cut to the limit
    # With citations asked for: the cited context chunk ids (an unknown number as "?<value>"), or None with
    # citation_error saying why they could not be read. Both None when the generator does not cite.
    citations: tuple[str, ...] | None = None
    citation_error: str | None = None
    ttft_s: float | None = None  # serving cost, where the backend reports it (ragsweep.llm.base.Completion)
    cached_prompt_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["context_chunk_ids"] = list(self.context_chunk_ids)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Generation:
        citations = d.get("citations")
        return cls(**{**d, "context_chunk_ids": tuple(d["context_chunk_ids"]), "citations": None if citations is None else tuple(citations)})


@dataclass
class StageStat:
    status: str  # "hit", "computed", "skipped" (component is none) or "not needed" (downstream cached)
    wall_s: float = 0.0
    key: str | None = None


@dataclass
class PipelineResult:
    """Everything one run computed, stage by stage: what scoring turns into records and the run folder records."""

    documents: list[Document]
    queries: list[Query]
    chunks: list[Chunk]
    retrieved: list[Retrieved]
    reranked: list[Retrieved]
    generations: list[Generation]
    selected: list[Retrieved] = field(default_factory=list)
    bracket_generations: dict[str, list[Generation]] = field(default_factory=dict)  # bracket -> its answers (``brackets``)  # a selector's context per query (selector != none), in given order
    judgements: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, StageStat] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)
    language: str = "en"
    task_description: dict[str, Any] = field(default_factory=dict)
    breakdown_keys: tuple[str, ...] = ()
    headline_metric: str | None = None
    chunking_wall_s: float = 0.0  # measured when the chunk stage was computed, kept with its cache entry
    retrieval_report: dict[str, Any] = field(default_factory=dict)  # e.g. an approximate search's recall vs exact
    data_files: list[str] = field(default_factory=list)  # absolute paths (as given, links unresolved) of every file and folder read
    failed_llm_results: int = 0  # generations and verdicts that failed: the next run retries them
    code: dict[str, str | None] = field(default_factory=dict)  # module -> code identity of every component used
    lower_is_better: list[str] = field(default_factory=list)  # judged columns where lower is better (from the rubrics)
    headline_extra: list[str] = field(default_factory=list)  # judged columns the rubrics mark as headline
    column_judges: dict[str, dict[str, Any]] = field(default_factory=dict)  # judged column -> its judge (id, rubric, models)
    assessments: list[dict[str, Any]] = field(default_factory=list)  # one per query with assessor=llm (labels, nuggets)
    assessment_stats: dict[str, Any] = field(default_factory=dict)  # what the assessor asked, reused from the store, could not read
    assessor_judges: dict[str, dict[str, Any]] = field(default_factory=dict)  # judged column prefix -> the assessor's judge


@dataclass(frozen=True)
class LLMCalls:
    """What an LLM stage will ask of one model through one backend before it asks: its calls, their prompt tokens
    (counted with the model's tokenizer) and completion tokens at their max_tokens bound (an upper bound: replies
    may stop sooner); and the work a machine's measured costs price in seconds (llm/work.py): the prompt tokens the
    backend evaluates (a prefix a batch shares, once), the attention pairs of prompts and replies, and the decoding
    steps (one a reply token for a conversation alone; one for a whole batch decoded together)."""

    model: str
    backend: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    evaluated_tokens: int
    attention_pairs: int
    decode_steps: int

    def __add__(self, other: "LLMCalls") -> "LLMCalls":
        if (self.model, self.backend) != (other.model, other.backend):
            raise ValueError(f"calls to {self.model} ({self.backend}) and {other.model} ({other.backend}) do not add up")
        counts = [a + b for a, b in zip(astuple(self)[2:], astuple(other)[2:])]
        return LLMCalls(self.model, self.backend, *counts)

    def times(self, k: int) -> "LLMCalls":
        """The same calls made ``k`` times (a judge's samples)."""
        return LLMCalls(self.model, self.backend, *(k * n for n in astuple(self)[2:]))
