"""assessor=llm: TREC-style assessment with an LLM on any chat backend, as the TREC 2024 RAG track does it.

Relevance (UMBRELA, Upadhyay et al. 2024): the top ``depth`` chunks of each final ranking get a 0-3 grade. Where
the gold decides a chunk (ragsweep.assessors.relevance) the gold's grade counts and the LLM's grade is asked only
to measure the assessor against the gold (``check_against_gold``); where it does not, the LLM's grade fills the
hole. Labels live in the assessment store by (query text, chunk text, assessor), so a chunk text retrieved by
several configurations of a sweep is labelled once.

Nuggets (AutoNuggetizer, Pradeep et al. 2024): nuggets are made from each query's evidence (gold spans, gold
documents, else the pool's chunks labelled relevant), each graded vital or okay, and each answer is assessed
against every nugget (support / partial_support / not_support). Nugget sets are stored per (query, its answers
and evidence, assessor), so every configuration is scored against the same nuggets; assignments per (query,
answer, nugget, assessor).

Every reply is read strictly; an unreadable reply or a failed call is counted and never stored, so the next run
asks again. A query whose nuggets could not all be made or graded, or whose answer could not be assessed against
every nugget, gets no nugget score (counted), never a partial one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ragsweep.assessors.nuggets import Evidence, chunk_evidence, gold_evidence, read_assignment, read_importance, read_nuggets, shown
from ragsweep.assessors.relevance import gold_label, gold_positive_chunks, read_grade
from ragsweep.assessors.store import AssessmentStore
from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_json, sha256_text
from ragsweep.judges.llm import SERVING_KEYS
from ragsweep.llm.base import backend_modules, build_backend
from ragsweep.llm.prompting import render
from ragsweep.registry import ASSESSORS
from ragsweep.types import Chunk, Document, Generation, Query, Retrieved

log = logging.getLogger(__name__)

PROMPTS = ("relevance", "nuggets", "importance", "assignment")


@dataclass
class Asked:
    """One kind of LLM question over a run: the distinct items asked, how many the store had, and the outcome."""

    asked: int = 0  # (query, item) pairs that needed an answer
    distinct: int = 0
    from_store: int = 0
    new: int = 0
    invalid: int = 0
    failed: int = 0
    answers: dict[str, Any] = field(default_factory=dict)  # store key -> the read answer (valid ones only)

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("asked", "distinct", "from_store", "new", "invalid", "failed")}


@ASSESSORS.register("llm")
class LLMAssessor:
    version = "1"
    label_params = ("depth",)

    def __init__(
        self, models: Sequence[dict[str, Any]], prompts: dict[str, Any], structured: bool = True, depth: int = 10, check_against_gold: bool = True,
        fully_judged: bool = False, gold_grade: int = 3, relevant_from: int = 2, nuggets: bool = True, max_nuggets: int = 30,
        nuggets_per_evidence: int = 5, max_evidence: int = 10,
    ):
        if len(models) != 1 or not isinstance(models[0], dict) or "backend" not in models[0] or "model" not in models[0]:
            raise ConfigError("assessor.models must hold one backend config with at least backend and model (a panel is not supported)")
        model = models[0]
        for name in PROMPTS:
            prompt = prompts.get(name) if isinstance(prompts, dict) else None
            if not isinstance(prompt, dict) or not isinstance(prompt.get("user"), str) or not isinstance(prompt.get("version"), str):
                raise ConfigError(f"assessor.prompts.{name} must hold at least a user template and a version")
        for key, value, low in (("depth", depth, 1), ("max_nuggets", max_nuggets, 1), ("nuggets_per_evidence", nuggets_per_evidence, 1),
                                ("max_evidence", max_evidence, 1), ("gold_grade", gold_grade, 1), ("relevant_from", relevant_from, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"assessor.{key} must be a whole number >= {low}, not {value!r}")
        if gold_grade > 3 or relevant_from > 3:
            raise ConfigError("assessor.gold_grade and assessor.relevant_from are grades on the 0-3 scale")
        self.model, self.prompts, self.structured = dict(model), {k: dict(prompts[k]) for k in PROMPTS}, structured
        self.depth, self.check_against_gold, self.fully_judged = depth, check_against_gold, fully_judged
        self.gold_grade, self.relevant_from, self.nuggets = gold_grade, relevant_from, nuggets
        self.max_nuggets, self.nuggets_per_evidence, self.max_evidence = max_nuggets, nuggets_per_evidence, max_evidence
        self._backend: Any = None

    @property
    def code_modules(self) -> tuple[str, ...]:
        return backend_modules([self.model])

    def identity(self, part: str) -> dict[str, Any]:
        """What decides this assessor's answers of one kind (``relevance`` or ``nuggets``, whose prompts are the
        nugget, importance and assignment prompts): prompts with versions, model without serving settings, decoding."""
        names = ("relevance",) if part == "relevance" else ("nuggets", "importance", "assignment")
        model = {k: v for k, v in self.model.items() if k not in SERVING_KEYS}
        return {"part": part, "prompts": {n: self.prompts[n] for n in names}, "model": model, "structured": self.structured}

    def judge_id(self, part: str) -> str:
        """Part of every store key of that part's answers (beside the assessor's code, in the store's identity)."""
        return sha256_json(self.identity(part))[:16]

    def judges(self) -> dict[str, dict[str, Any]]:
        """Each judged column prefix's judge, as metrics.json ``judges`` names it."""
        model = [str(self.model["model"])]
        relevance = {"judge_id": self.judge_id("relevance"), "rubric": f"umbrela ({self.prompts['relevance']['version']})", "models": model, "samples": 1}
        nuggets = {"judge_id": self.judge_id("nuggets"), "rubric": f"autonuggetizer ({self.prompts['nuggets']['version']})", "models": model, "samples": 1}
        return {"judged_ndcg@": relevance, "judged_precision@": relevance, "nugget_": nuggets}

    # --- asking ---------------------------------------------------------------------------------------------

    def _ask(
        self, store: AssessmentStore, kind: str, items: Sequence[tuple[str, list[dict[str, str]]]], read: Callable[[str], Any], asked: Asked,
    ) -> None:
        """Answer every (store key, conversation) not answered yet: from the store, else from the model in one batch.
        Readable answers are stored and kept in ``asked.answers``."""
        asked.asked += len(items)
        todo: dict[str, list[dict[str, str]]] = {}
        for key, conversation in items:
            if key in asked.answers or key in todo:
                continue
            asked.distinct += 1
            cached = store.get(kind, key)
            if cached is not None:
                asked.from_store += 1
                asked.answers[key] = cached["answer"]
            else:
                todo[key] = conversation
        if not todo:
            return
        prompt = self.prompts[kind]
        schema = prompt.get("schema") if self.structured else None
        completions = self.backend().complete(list(todo.values()), json_schema=schema, desc=f"assess:{kind}", max_tokens=prompt.get("max_tokens"))
        for key, completion in zip(todo, completions):
            self.tokens[0] += completion.prompt_tokens
            self.tokens[1] += completion.completion_tokens
            if completion.error:
                asked.failed += 1
                continue
            answer = read(completion.text)
            if answer is None:
                asked.invalid += 1
                continue
            asked.new += 1
            asked.answers[key] = answer
            store.put(kind, key, {"answer": answer, "reply": completion.text})

    def backend(self) -> Any:
        if self._backend is None:  # built only when something is not in the store yet
            self._backend = build_backend(self.model)
        return self._backend

    def _conversation(self, kind: str, **fields: str) -> list[dict[str, str]]:
        return render(self.prompts[kind], **fields)

    # --- the run --------------------------------------------------------------------------------------------

    def assess(
        self, store: AssessmentStore, queries: Sequence[Query], documents: Sequence[Document], chunks: Sequence[Chunk],
        ranked: Sequence[Retrieved], generations: Sequence[Generation],
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(one assessment per query, the run's counts). An assessment: ``labels`` {chunk id: [grade, source]} (the
        gold's positives over the whole chunking, and the pool's labels), ``pool``, ``llm_labels`` {chunk id: grade or
        None} of the pool, ``relevant_from``, and with nuggets: ``nuggets`` [{text, importance, evidence, assignment,
        in_context}] or None, ``nugget_source``, ``nuggets_status``."""
        self.tokens = [0, 0]
        by_id = {c.chunk_id: c for c in chunks}
        of_doc: dict[str, list[Chunk]] = {}
        for c in chunks:
            of_doc.setdefault(c.doc_id, []).append(c)
        rankings = {r.query_id: [by_id[cid] for cid in r.chunk_ids] for r in ranked}
        out = [self._labels(q, of_doc, rankings[q.query_id][: self.depth]) for q in queries]
        relevance = Asked()
        items = [(self._label_key(store, q, c), self._conversation("relevance", query=q.question, passage=c.text))
                 for q, a in zip(queries, out) for c in (by_id[cid] for cid in a["llm_labels"]) if a["llm_labels"][c.chunk_id] is None]
        self._ask(store, "relevance", items, read_grade, relevance)
        for q, a in zip(queries, out):
            for cid in a["llm_labels"]:  # the chunks asked about (gold-decided ones only with check_against_gold)
                grade = relevance.answers.get(self._label_key(store, q, by_id[cid]))
                a["llm_labels"][cid] = grade
                if cid not in a["labels"] and grade is not None:
                    a["labels"][cid] = [grade, "llm"]
        stats: dict[str, Any] = {"relevance": relevance.counts()}
        if self.nuggets and generations:
            stats.update(self._nuggets(store, queries, {d.doc_id: d for d in documents}, by_id, out, generations))
        stats["prompt_tokens"], stats["completion_tokens"] = self.tokens
        return out, stats

    def _labels(self, q: Query, of_doc: dict[str, list[Chunk]], pool: Sequence[Chunk]) -> dict[str, Any]:
        labels = {c.chunk_id: [grade, source] for c, grade, source in gold_positive_chunks(q, of_doc, self.gold_grade)}
        llm: dict[str, int | None] = {}
        for c in pool:
            decided = gold_label(c, q, self.fully_judged, self.gold_grade)
            if decided is not None:
                labels[c.chunk_id] = list(decided)
            if decided is None or self.check_against_gold:
                llm[c.chunk_id] = None  # to ask
        return {"query_id": q.query_id, "relevant_from": self.relevant_from, "pool": [c.chunk_id for c in pool], "labels": labels,
                "llm_labels": llm}

    def _label_key(self, store: AssessmentStore, q: Query, c: Chunk) -> str:
        return store.key(kind="relevance", judge=self.judge_id("relevance"), query=q.question, chunk=sha256_text(c.text))

    def _evidence(self, q: Query, documents: dict[str, Document], by_id: dict[str, Chunk], a: dict[str, Any]) -> tuple[list[Evidence], str | None]:
        gold = gold_evidence(q, documents)
        if gold:
            return gold[: self.max_evidence], "gold"
        relevant = [by_id[cid] for cid in a["pool"] if (a["labels"].get(cid) or [0])[0] >= self.relevant_from]
        return (chunk_evidence(relevant[: self.max_evidence]), "chunks") if relevant else ([], None)

    def _nuggets(
        self, store: AssessmentStore, queries: Sequence[Query], documents: dict[str, Document], by_id: dict[str, Chunk],
        out: list[dict[str, Any]], generations: Sequence[Generation],
    ) -> dict[str, Any]:
        made, graded, assigned = Asked(), Asked(), Asked()
        nugget_judge = self.judge_id("nuggets")
        evidence = [self._evidence(q, documents, by_id, a) for q, a in zip(queries, out)]
        # 1. Nuggets from each evidence item (a stored nugget set skips its query's questions).
        set_keys = [store.key(kind="nugget_set", judge=nugget_judge, query=q.question, answers=list(q.answers), evidence=[[e.to_list(), e.text] for e in ev])
                    for q, (ev, _) in zip(queries, evidence)]
        sets = {k: store.get("nugget_set", k) for k in set(set_keys)}
        items = [(store.key(kind="nuggets", judge=nugget_judge, query=q.question, reference=" | ".join(q.answers), passage=e.text),
                  self._conversation("nuggets", question=q.question, reference=" | ".join(q.answers), passage=e.text))
                 for q, (ev, _), k in zip(queries, evidence, set_keys) if sets[k] is None for e in ev]
        self._ask(store, "nuggets", items, lambda r: read_nuggets(r, self.nuggets_per_evidence), made)
        drafts: dict[str, list[dict[str, Any]] | None] = {}
        for q, (ev, _), k in zip(queries, evidence, set_keys):
            if sets[k] is not None or k in drafts or not ev:
                continue
            texts = [made.answers.get(store.key(kind="nuggets", judge=nugget_judge, query=q.question, reference=" | ".join(q.answers), passage=e.text)) for e in ev]
            if any(t is None for t in texts):
                drafts[k] = None
                continue
            merged: dict[str, list[list[Any]]] = {}
            for e, nuggets in zip(ev, texts):
                for text in nuggets:
                    merged.setdefault(text, []).append(e.to_list())
            drafts[k] = [{"text": t, "evidence": spans} for t, spans in list(merged.items())[: self.max_nuggets]]
        # 2. Importance of each new nugget.
        importance_items = [(store.key(kind="importance", judge=nugget_judge, query=q.question, nugget=n["text"]),
                             self._conversation("importance", question=q.question, reference=" | ".join(q.answers), nugget=n["text"]))
                            for q, k in zip(queries, set_keys) for n in drafts.get(k) or ()]
        self._ask(store, "importance", importance_items, read_importance, graded)
        for q, k in zip(queries, set_keys):
            draft = drafts.get(k)
            if draft is None or sets[k] is not None:
                continue
            levels = [graded.answers.get(store.key(kind="importance", judge=nugget_judge, query=q.question, nugget=n["text"])) for n in draft]
            if all(level is not None for level in levels):
                sets[k] = [{**n, "importance": level} for n, level in zip(draft, levels)]
                store.put("nugget_set", k, sets[k])
        # 3. Each answer against each nugget.
        gens = {g.query_id: g for g in generations}
        answer_items = []
        for q, k in zip(queries, set_keys):
            g = gens.get(q.query_id)
            if sets[k] and g is not None and not g.error:
                answer_items += [(self._assignment_key(store, q, g, n), self._conversation("assignment", question=q.question, answer=g.answer, nugget=n["text"]))
                                 for n in sets[k]]
        self._ask(store, "assignment", answer_items, read_assignment, assigned)
        counts = {"no_evidence": 0, "nuggets_invalid": 0, "not_answered": 0, "assignment_invalid": 0, "scored": 0}
        for q, a, (ev, source), k in zip(queries, out, evidence, set_keys):
            g = gens.get(q.query_id)
            a["nugget_source"], a["nuggets"] = source, None
            status = ("no_evidence" if not ev else "nuggets_invalid" if not sets[k] else "not_answered" if g is None or g.error else None)
            if status is None:
                context = [by_id[cid] for cid in g.context_chunk_ids if cid in by_id]
                nuggets = [{**n, "assignment": assigned.answers.get(self._assignment_key(store, q, g, n)), "in_context": shown(n["evidence"], context)}
                           for n in sets[k]]
                status = "assignment_invalid" if any(n["assignment"] is None for n in nuggets) else "scored"
                a["nuggets"] = nuggets
            a["nuggets_status"] = status
            counts[status] += 1
        return {"nuggets": made.counts(), "importance": graded.counts(), "assignment": assigned.counts(), "nugget_queries": counts}

    def _assignment_key(self, store: AssessmentStore, q: Query, g: Generation, nugget: dict[str, Any]) -> str:
        return store.key(kind="assignment", judge=self.judge_id("nuggets"), query=q.question, answer=g.answer, nugget=nugget["text"])
