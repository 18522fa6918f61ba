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

import functools
import logging
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ragsweep.assessors.nuggets import Evidence, chunk_evidence, gold_evidence, read_assignment, read_importance, read_nuggets, shown
from ragsweep.assessors.reference import NUGGETIZER_MAX_TOKENS, UMBRELA_MAX_TOKENS, Channel, Nuggetizer, Umbrela, references
from ragsweep.assessors.relevance import gold_label, gold_positive_chunks, read_grade
from ragsweep.assessors.store import AssessmentStore
from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_json, sha256_text
from ragsweep.config_keys import NOT_IDENTITY, without_keys
from ragsweep.llm.base import backend_modules, build_backend
from ragsweep.llm.prompting import render
from ragsweep.metrics.trec import ASSIGNMENTS, IMPORTANCE
from ragsweep.registry import ASSESSORS
from ragsweep.types import Chunk, Document, Generation, LLMCalls, Query, Retrieved

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
    unreadable: set[str] = field(default_factory=set)  # store keys whose reply could not be read

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("asked", "distinct", "from_store", "new", "invalid", "failed")}


@ASSESSORS.register("llm")
class LLMAssessor:
    version = "1"
    label_params = ("depth",)

    def __init__(
        self, models: Sequence[dict[str, Any]], prompts: dict[str, Any], structured: bool = True, depth: int = 10, check_against_gold: bool = True,
        fully_judged: bool = False, gold_grade: int = 3, relevant_from: int = 2, nuggets: bool = True, max_nuggets: int = 30,
        nuggets_per_evidence: int = 5, max_evidence: int = 10, reference: Any = None, nugget_assign_grades: int = 3,
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
        # assessor.reference: the released UMBRELA / Nuggetizer code in place of ragsweep's prompts (docs/trec.md).
        self.references = references(reference)
        self.umbrela = Umbrela.load() if "umbrela" in self.references else None
        self.nuggetizer = Nuggetizer.load(nugget_assign_grades) if "nuggetizer" in self.references else None
        self._judge_ids = {part: sha256_json(self.identity(part))[:16] for part in ("relevance", "nuggets")}  # in every store key

    @property
    def code_modules(self) -> tuple[str, ...]:
        return backend_modules([self.model])

    def identity(self, part: str) -> dict[str, Any]:
        """What decides this assessor's answers of one kind (``relevance`` or ``nuggets``, whose prompts are the
        nugget, importance and assignment prompts): prompts with versions, model without serving settings, decoding."""
        model = without_keys(self.model, NOT_IDENTITY)
        reference = self.umbrela if part == "relevance" else self.nuggetizer
        if reference is not None:  # the package's prompts and parsers, by version and content
            return {"part": part, "reference": reference.identity(), "model": model}
        names = ("relevance",) if part == "relevance" else ("nuggets", "importance", "assignment")
        return {"part": part, "prompts": {n: self.prompts[n] for n in names}, "model": model, "structured": self.structured}

    def judge_id(self, part: str) -> str:
        """Part of every store key of that part's answers (beside the assessor's code, in the store's identity)."""
        return self._judge_ids[part]

    def judges(self) -> dict[str, dict[str, Any]]:
        """Each judged column prefix's judge, as metrics.json ``judges`` names it."""
        model = [str(self.model["model"])]
        relevance_rubric = f"umbrela {self.umbrela.version} (reference)" if self.umbrela else f"umbrela ({self.prompts['relevance']['version']})"
        nugget_rubric = f"nuggetizer {self.nuggetizer.version} (reference)" if self.nuggetizer else f"autonuggetizer ({self.prompts['nuggets']['version']})"
        relevance = {"judge_id": self.judge_id("relevance"), "rubric": relevance_rubric, "models": model, "samples": 1}
        nuggets = {"judge_id": self.judge_id("nuggets"), "rubric": nugget_rubric, "models": model, "samples": 1}
        return {"judged_ndcg@": relevance, "judged_precision@": relevance, "nugget_": nuggets}

    # --- asking ---------------------------------------------------------------------------------------------

    def _ask(
        self, store: AssessmentStore, kind: str, items: Sequence[tuple[str, list[dict[str, str]]]], read: Callable[[str], Any], asked: Asked,
        decoding: tuple[dict[str, Any] | None, int | None] | None = None,
    ) -> None:
        """Answer every (store key, conversation) not answered yet: from the store, else from the model in one batch.
        Readable answers are stored and kept in ``asked.answers``, the keys of unreadable ones in ``asked.unreadable``.
        ``decoding``: (JSON schema, max tokens), by default the prompt's."""
        asked.asked += len(items)
        todo = self._unanswered(store, kind, items, asked)
        if not todo:
            return
        prompt = self.prompts[kind]
        schema, max_tokens = decoding or (prompt.get("schema") if self.structured else None, prompt.get("max_tokens"))
        completions = self._send(list(todo.values()), schema, f"assess:{kind}", max_tokens)
        for key, completion in zip(todo, completions):
            if completion.error:
                asked.failed += 1
                continue
            answer = read(completion.text)
            if answer is None:
                asked.invalid += 1
                asked.unreadable.add(key)
                continue
            asked.new += 1
            asked.answers[key] = answer
            store.put(kind, key, {"answer": answer, "reply": completion.text})

    @staticmethod
    def _unanswered(store: AssessmentStore, kind: str, items: Sequence[tuple[str, list[dict[str, str]]]], asked: Asked) -> dict[str, list[dict[str, str]]]:
        """The distinct (store key -> conversation) the store has no answer for; its answers go to ``asked``."""
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
        return todo

    def backend(self) -> Any:
        if self._backend is None:  # built only when something is not in the store yet
            self._backend = build_backend(self.model)
        return self._backend

    def _conversation(self, kind: str, **fields: str) -> list[dict[str, str]]:
        return render(self.prompts[kind], **fields)

    def _relevance_conversation(self, query: str, passage: str) -> list[dict[str, str]]:
        return self.umbrela.conversation(query, passage) if self.umbrela is not None else self._conversation("relevance", query=query, passage=passage)

    def _send(self, conversations: list[list[dict[str, str]]], schema: dict[str, Any] | None, desc: str, max_tokens: int | None) -> list[Any]:
        """One batch to the backend, its tokens counted for the run."""
        completions = self.backend().complete(conversations, json_schema=schema, desc=desc, max_tokens=max_tokens)
        for completion in completions:
            self.tokens[0] += completion.prompt_tokens
            self.tokens[1] += completion.completion_tokens
        return completions

    def _complete(self, conversations: list[list[dict[str, str]]]) -> list[str | None]:
        """The reference Nuggetizer's conversations of one batch: each reply, None where the call failed."""
        return [None if c.error else c.text for c in self._send(conversations, None, "assess:nuggetizer", NUGGETIZER_MAX_TOKENS)]

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
        out, items = self._pools(store, queries, chunks, ranked)
        relevance = Asked()
        if self.umbrela is not None:
            self._ask(store, "relevance", items, self.umbrela.grade, relevance, (None, UMBRELA_MAX_TOKENS))
        else:
            self._ask(store, "relevance", items, read_grade, relevance)
        for q, a in zip(queries, out):
            for cid in a["llm_labels"]:  # the chunks asked about (gold-decided ones only with check_against_gold)
                key = self._label_key(store, q, by_id[cid])
                grade = relevance.answers.get(key)
                if grade is None and self.umbrela is not None and key in relevance.unreadable:
                    grade = 0  # UMBRELA writes 0 for a reply its parser cannot read (counted invalid, never stored)
                a["llm_labels"][cid] = grade
                if cid not in a["labels"] and grade is not None:
                    a["labels"][cid] = [grade, "llm"]
        stats: dict[str, Any] = {"relevance": relevance.counts()}
        if self.nuggets and generations:
            nuggets = self._reference_nuggets if self.nuggetizer is not None else self._nuggets
            stats.update(nuggets(store, queries, {d.doc_id: d for d in documents}, by_id, out, generations))
        stats["prompt_tokens"], stats["completion_tokens"] = self.tokens
        if self.references:
            stats["reference"] = {r.name: r.version for r in (self.umbrela, self.nuggetizer) if r is not None}
        return out, stats

    def planned_calls(
        self, store: AssessmentStore, queries: Sequence[Query], documents: Sequence[Document], chunks: Sequence[Chunk],
        ranked: Sequence[Retrieved], generations: Sequence[Generation],
    ) -> list[LLMCalls] | None:
        """What ``assess`` would ask, counted without asking (``ragsweep plan``): the relevance and nugget questions
        the store has no answer for, exactly; the importance of each nugget not made yet and each answer's
        assignments at their bound (as many nuggets as the query's evidence may give, up to max_nuggets, each as long
        as a whole nugget reply). Replies at their max_tokens. None with the released Nuggetizer, whose later
        prompts hold its own earlier replies."""
        if self.nuggetizer is not None and self.nuggets and generations:
            return None
        backend = self.backend()
        bound = {kind: self.prompts[kind].get("max_tokens") or backend.max_tokens for kind in PROMPTS}
        if self.umbrela is not None:
            bound["relevance"] = UMBRELA_MAX_TOKENS
        by_id = {c.chunk_id: c for c in chunks}
        out, relevance = self._pools(store, queries, chunks, ranked)
        asks: dict[str, list[list[dict[str, str]]]] = {kind: [] for kind in ("relevance", "nuggets", "importance", "assignment")}
        asks["relevance"] = list(self._unanswered(store, "relevance", relevance, Asked()).values())
        if self.nuggets and generations:
            evidence, set_keys, sets, created = self._nugget_questions(store, queries, {d.doc_id: d for d in documents}, by_id, out)
            asks["nuggets"] = list(self._unanswered(store, "nuggets", created, Asked()).values())
            longest = " ".join(["nugget"] * bound["nuggets"])  # a nugget is at most its whole reply
            gens = {g.query_id: g for g in generations}
            assignments = []
            for q, (ev, _), k in zip(queries, evidence, set_keys):
                reference = " | ".join(q.answers)
                new = 0 if sets[k] is not None else min(self.max_nuggets, self.nuggets_per_evidence * len(ev))
                asks["importance"] += [self._conversation("importance", question=q.question, reference=reference, nugget=longest)] * new
                g = gens.get(q.query_id)
                if g is not None and not g.error:
                    nuggets = [*(sets[k] or ()), *[{"text": longest}] * new]
                    assignments += [(self._assignment_key(store, q, g, n), self._conversation("assignment", question=q.question, answer=g.answer, nugget=n["text"]))
                                    for n in nuggets]
            asks["assignment"] = list(self._unanswered(store, "assignment", assignments, Asked()).values())
        # One batch a kind, as ``assess`` sends them.
        return [functools.reduce(operator.add, (backend.planned(convs, [bound[kind]] * len(convs)) for kind, convs in asks.items()))]

    def _pools(self, store: AssessmentStore, queries: Sequence[Query], chunks: Sequence[Chunk], ranked: Sequence[Retrieved],
               ) -> tuple[list[dict[str, Any]], list[tuple[str, list[dict[str, str]]]]]:
        """(each query's assessment, its labels decided by the gold where they can be; the relevance questions left to ask)."""
        by_id = {c.chunk_id: c for c in chunks}
        of_doc: dict[str, list[Chunk]] = {}
        for c in chunks:
            of_doc.setdefault(c.doc_id, []).append(c)
        rankings = {r.query_id: [by_id[cid] for cid in r.chunk_ids] for r in ranked}
        out = [self._labels(q, of_doc, rankings[q.query_id][: self.depth]) for q in queries]
        items = [(self._label_key(store, q, c), self._relevance_conversation(q.question, c.text))
                 for q, a in zip(queries, out) for c in (by_id[cid] for cid in a["llm_labels"]) if a["llm_labels"][c.chunk_id] is None]
        return out, items

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
        """A query's evidence, at most ``max_evidence`` items; all of it in reference mode (Nuggetizer reads every
        document given, in windows of 10)."""
        limit = None if self.nuggetizer is not None else self.max_evidence
        gold = gold_evidence(q, documents)
        if gold:
            return gold[:limit], "gold"
        relevant = [by_id[cid] for cid in a["pool"] if (a["labels"].get(cid) or [0])[0] >= self.relevant_from]
        return (chunk_evidence(relevant[:limit]), "chunks") if relevant else ([], None)

    def _nuggets(
        self, store: AssessmentStore, queries: Sequence[Query], documents: dict[str, Document], by_id: dict[str, Chunk],
        out: list[dict[str, Any]], generations: Sequence[Generation],
    ) -> dict[str, Any]:
        made, graded, assigned = Asked(), Asked(), Asked()
        nugget_judge = self.judge_id("nuggets")
        # 1. Nuggets from each evidence item (a stored nugget set skips its query's questions).
        evidence, set_keys, sets, items = self._nugget_questions(store, queries, documents, by_id, out)
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

    def _nugget_questions(
        self, store: AssessmentStore, queries: Sequence[Query], documents: dict[str, Document], by_id: dict[str, Chunk], out: list[dict[str, Any]],
    ) -> tuple[list[tuple[list[Evidence], str | None]], list[str], dict[str, Any], list[tuple[str, list[dict[str, str]]]]]:
        """(each query's evidence, its nugget set's store key, the stored sets, the nugget questions of the queries
        whose set is not stored: one an evidence item)."""
        nugget_judge = self.judge_id("nuggets")
        evidence = [self._evidence(q, documents, by_id, a) for q, a in zip(queries, out)]
        set_keys = [store.key(kind="nugget_set", judge=nugget_judge, query=q.question, answers=list(q.answers), evidence=[[e.to_list(), e.text] for e in ev])
                    for q, (ev, _) in zip(queries, evidence)]
        sets = {k: store.get("nugget_set", k) for k in set(set_keys)}
        items = [(store.key(kind="nuggets", judge=nugget_judge, query=q.question, reference=" | ".join(q.answers), passage=e.text),
                  self._conversation("nuggets", question=q.question, reference=" | ".join(q.answers), passage=e.text))
                 for q, (ev, _), k in zip(queries, evidence, set_keys) if sets[k] is None for e in ev]
        return evidence, set_keys, sets, items

    def _assignment_key(self, store: AssessmentStore, q: Query, g: Generation, nugget: dict[str, Any]) -> str:
        return store.key(kind="assignment", judge=self.judge_id("nuggets"), query=q.question, answer=g.answer, nugget=nugget["text"])

    # --- nuggets by the released Nuggetizer (assessor.reference=nuggetizer) -----------------------------------

    def _reference_nuggets(
        self, store: AssessmentStore, queries: Sequence[Query], documents: dict[str, Document], by_id: dict[str, Chunk],
        out: list[dict[str, Any]], generations: Sequence[Generation],
    ) -> dict[str, Any]:
        """Nuggetizer's own create and assign per query, its calls sent to the backend in batches across queries.
        Its nugget set of a query's evidence (in order, one document per evidence item) and its assignment of each
        answer are stored only when every reply of theirs was read; its failure labels (``failed``) and labels
        outside the track's are kept as it writes them, so ``nugget_reference_compat`` scores exactly as the
        reference, while the defined scores leave such a query unscored (its status says why). A nugget it drops
        because the model labelled fewer nuggets than it asked about is counted (``dropped``)."""
        assert self.nuggetizer is not None
        ref, judge = self.nuggetizer, self.judge_id("nuggets")
        made, assigned = Asked(), Asked()
        counts = {"no_evidence": 0, "nuggets_invalid": 0, "not_answered": 0, "assignment_invalid": 0, "scored": 0}
        gens = {g.query_id: g for g in generations}
        evidence = [self._evidence(q, documents, by_id, a) for q, a in zip(queries, out)]
        # 1. The nugget set of each query with evidence.
        with_evidence = [(q, [e.text for e in ev]) for q, (ev, _) in zip(queries, evidence) if ev]
        created = self._reference_steps(store, "nugget_set", made, [
            (store.key(kind="nugget_set", judge=judge, query=q.question, documents=texts),
             lambda channel, q=q, texts=texts: ref.create(q.query_id, q.question, texts, channel)) for q, texts in with_evidence])
        sets = {q.query_id: result for (q, _), result in zip(with_evidence, created)}
        # 2. Each answer against its query's nuggets.
        to_assign = [(q, gens[q.query_id], sets[q.query_id][0]["nuggets"]) for q in queries
                     if q.query_id in sets and sets[q.query_id][0]["nuggets"] and q.query_id in gens and not gens[q.query_id].error]
        results = self._reference_steps(store, "assignment_list", assigned, [
            (store.key(kind="assignment_list", judge=judge, query=q.question, answer=g.answer, nuggets=[[n["text"], n["importance"]] for n in nuggets]),
             lambda channel, q=q, g=g, nuggets=nuggets: ref.assign(q.question, g.answer, nuggets, channel)) for q, g, nuggets in to_assign])
        assignments = {q.query_id: result for (q, _, _), result in zip(to_assign, results)}
        dropped_made = sum(result["dropped"] for result, _ in sets.values())
        dropped = 0
        for q, a, (_, source) in zip(queries, out, evidence):
            a["nugget_source"], a["nuggets"] = source, None
            if q.query_id not in sets:
                status = "no_evidence"
            else:
                (result, clean), g = sets[q.query_id], gens.get(q.query_id)
                nuggets = result["nuggets"]
                valid = nuggets and clean and not result["dropped"] and all(n["importance"] in IMPORTANCE for n in nuggets)
                status = None if valid else "nuggets_invalid"
                if g is None or g.error:
                    status = status or "not_answered"
                elif q.query_id in assignments:
                    labelled, clean = assignments[q.query_id]
                    dropped += len(nuggets) - len(labelled)
                    if not clean or len(labelled) != len(nuggets) or any(n["assignment"] not in ASSIGNMENTS for n in labelled):
                        status = status or "assignment_invalid"
                    a["nuggets"] = [{**n, "evidence": [], "in_context": None} for n in labelled]
            a["nuggets_status"] = status or "scored"
            counts[a["nuggets_status"]] += 1
        if made.invalid or made.failed or assigned.invalid or assigned.failed or dropped_made or dropped:
            log.warning("Nuggetizer: %d nugget sets and %d assignments with unreadable replies, %d failed calls, %d nuggets dropped unlabelled",
                        made.invalid, assigned.invalid, made.failed + assigned.failed, dropped_made + dropped)
        return {"nuggets": {**made.counts(), "dropped": dropped_made}, "assignment": {**assigned.counts(), "dropped": dropped}, "nugget_queries": counts}

    def _reference_steps(self, store: AssessmentStore, kind: str, asked: Asked, steps: Sequence[tuple[str, Callable[[Channel], Any]]]) -> list[tuple[Any, bool]]:
        """(result, whether every reply was read) of each (store key, call of the reference's): from the store, else
        run side by side with the others (their model calls batched). A clean result is stored; an unclean one is
        used for this run only, and the next run asks again."""
        found: dict[str, tuple[Any, bool]] = {}
        todo: dict[str, Callable[[Channel], Any]] = {}
        for key, call in steps:
            asked.asked += 1
            if key in asked.answers or key in found or key in todo:
                continue
            asked.distinct += 1
            cached = store.get(kind, key)
            if cached is not None:
                asked.from_store += 1
                found[key] = (cached["answer"], True)
            else:
                todo[key] = call
        for key, (result, channel) in zip(todo, self.nuggetizer.run(list(todo.values()), self._complete) if todo else ()):
            asked.failed += channel.failed
            clean = not channel.repeated and not channel.failed
            found[key] = (result, clean)
            if clean:
                asked.new += 1
                asked.answers[key] = result
                store.put(kind, key, {"answer": result})
            else:
                asked.invalid += 1
        return [found[key] if key in found else (asked.answers[key], True) for key, _ in steps]
