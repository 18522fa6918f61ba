"""LLM-as-judge over rubrics defined as data (configs/judge/rubric/<name>.yaml: prompt, few-shot turns, JSON
schema, record columns and their reply readers), on any chat backend or a panel of them. Built in: NitiBench
coverage + contradiction, CoFE-RAG correctness, faithfulness, relevance and citation attribution; ragas is
its own judge (judge=ragas, ragsweep.judges.ragas_bridge).

Every call's raw reply is kept. A verdict that cannot be read, or a call that failed, is recorded as
invalid (score None) and counted; a query whose answer failed to generate is not judged and counted. A reply
that used all of its max_tokens and still cannot be read is counted apart as stalled (it ran out of room inside
its JSON, a failure that more tokens or structured decoding fixes, not a verdict).
Which rubrics apply to a query depends on its gold: coverage and correctness need a reference answer.

Repeated sampling: with ``samples: k`` (k > 1, temperature > 0) each model judges every item k times with seeds
seed, seed+1, ...; its verdict is the majority vote of its readable samples and the share of samples that agree
with the vote is kept, so a judge's drift between runs is measured rather than averaged away unseen.
Languages: a rubric may hold ``prompts: {th: {...}}`` beside its default ``prompt``; the judge's ``language``
(the task's) picks one.
"""

from __future__ import annotations

import copy
import functools
import operator
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_json
from ragsweep.judges.readers import reader
from ragsweep.config_keys import NOT_IDENTITY, without_keys
from ragsweep.llm.base import backend_modules, build_backend
from ragsweep.llm.prompting import check_template, render
from ragsweep.registry import JUDGES
from ragsweep.types import Chunk, Generation, LLMCalls, Query
from ragsweep.metrics import judge as jm

log = logging.getLogger(__name__)


CONTEXTS = ("generator", "cited")
PROMPT_FIELDS = ("question", "reference", "answer", "context")  # what a rubric's user template may name


@dataclass(frozen=True)
class Rubric:
    """One rubric, from its YAML definition (configs/judge/rubric/<name>.yaml, or a --config-dir's)."""

    name: str
    needs_reference: bool
    context: str  # "generator": the generator's first context_k chunks; "cited": the chunks the answer cites
    columns: dict[str, Callable[[str], float | None]]  # record column -> reader of one raw reply
    lower_is_better: tuple[str, ...]
    headline: tuple[str, ...]  # columns the report shows and the gate tracks by default
    schema: dict[str, Any] | None
    prompt: dict[str, Any]
    prompts: dict[str, dict[str, Any]]  # language -> prompt, where the rubric has one in that language
    definition: dict[str, Any]  # the YAML definition as given: part of the judge's identity

    def prompt_for(self, language: str | None) -> dict[str, Any]:
        return self.prompts.get(language or "", self.prompt)

    @classmethod
    def from_config(cls, name: str, spec: Any) -> Rubric:
        """A rubric from its definition, every field checked: a bad one is one line naming rubric and field."""
        where = f"judge rubric {name!r}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: no definition (add configs/judge/rubric/{name}.yaml and compose it with +judge/rubric@judge.rubric_defs.{name}={name})")
        columns = spec.get("columns")
        if not isinstance(columns, dict) or not columns or not all(isinstance(c, dict) and isinstance(c.get("reader"), str) for c in columns.values()):
            raise ConfigError(f"{where}: columns must map each record column to {{reader: <name or import path>}}")
        if spec.get("context", "generator") not in CONTEXTS:
            raise ConfigError(f"{where}: context must be one of {', '.join(CONTEXTS)}, not {spec.get('context')!r}")
        prompt = spec.get("prompt")
        if not isinstance(prompt, dict) or not isinstance(prompt.get("user"), str):
            raise ConfigError(f"{where}: prompt must hold at least a user template")
        by_language = spec.get("prompts") or {}
        if not isinstance(by_language, dict) or not all(isinstance(p, dict) and isinstance(p.get("user"), str) for p in by_language.values()):
            raise ConfigError(f"{where}: prompts must map a language code to a prompt holding at least a user template")
        for label, p in [("prompt", prompt), *((f"prompts.{lang}", p) for lang, p in by_language.items())]:
            if not isinstance(p.get("system", ""), str) or not isinstance(p.get("examples") or [], list):
                raise ConfigError(f"{where}: {label}.system must be text and {label}.examples a list of {{user, assistant}} turns")
            check_template(p["user"], PROMPT_FIELDS, f"{where}, {label}.user")
        schema = spec.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise ConfigError(f"{where}: schema must be a JSON schema object or null")
        return cls(
            name=name,
            needs_reference=bool(spec.get("needs_reference", False)),
            context=spec.get("context", "generator"),
            columns={column: reader(c["reader"], name) for column, c in columns.items()},
            lower_is_better=tuple(column for column, c in columns.items() if c.get("higher_is_better") is False),
            headline=tuple(column for column, c in columns.items() if c.get("headline") is True),
            schema=schema,
            prompt=prompt,
            prompts={str(lang): p for lang, p in by_language.items()},
            definition=spec,
        )


@JUDGES.register("llm")
class LLMJudge:
    version = "1"
    label_params: tuple[str, ...] = ()

    def __init__(
        self,
        models: Sequence[dict[str, Any]],
        rubrics: Sequence[str],
        rubric_defs: dict[str, Any],
        structured: bool = True,
        invalid_policy: str = "exclude",
        context_k: int = 3,
        samples: int = 1,
        language: str | None = None,
    ):
        if invalid_policy not in ("exclude", "zero"):
            raise ConfigError(f"judge.invalid_policy must be 'exclude' or 'zero', not {invalid_policy!r}")
        if not models:
            raise ConfigError("a judge needs at least one model (judge.models)")
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise ConfigError(f"judge.samples must be a whole number >= 1, not {samples!r}")
        if samples > 1 and any(float(m.get("temperature", 0.0)) <= 0 for m in models):
            raise ConfigError(f"judge.samples={samples} repeats identical greedy replies: give every judge model a temperature > 0")
        self.rubric_defs = {name: Rubric.from_config(name, rubric_defs.get(name)) for name in rubrics}
        writers: dict[str, str] = {}
        for name, spec in self.rubric_defs.items():
            for column in spec.columns:
                if column in writers:
                    raise ConfigError(f"judge rubrics {writers[column]!r} and {name!r} both write the record column {column!r}: "
                                      "one column would mix two rubrics' verdicts; rename one of them in its rubric YAML")
                writers[column] = name
        self.model_configs = [dict(m) for m in models]
        self.rubrics, self.structured = list(rubrics), structured
        self.invalid_policy, self.context_k = invalid_policy, context_k
        self.samples, self.language = samples, language

    @property
    def code_modules(self) -> tuple[str, ...]:
        """The backends' modules: part of the judge stage's key beside this module's code."""
        return backend_modules(self.model_configs)

    @property
    def lower_is_better(self) -> list[str]:
        """The record columns of its rubrics where a lower score is the better one (for the gate and report)."""
        return sorted(c for r in self.rubric_defs.values() for c in r.lower_is_better)

    @property
    def headline_columns(self) -> list[str]:
        return [c for r in self.rubric_defs.values() for c in r.headline]

    def identity(self, rubric: str) -> dict[str, Any]:
        """What decides this judge's verdicts on one rubric: the rubric's definition with the prompt its language
        picks, the models (without where they are served or how they are batched), structured decoding, the
        context shown and the samples. Equal identities judge alike, so a calibration measured for one holds for
        the other; the seed is left out (a calibration characterises a judge, not one of its draws)."""
        spec = self.rubric_defs[rubric]
        definition = {k: v for k, v in spec.definition.items() if k != "prompts"} | {"prompt": self._prompt(rubric)}
        models = [without_keys(m, NOT_IDENTITY) for m in self.model_configs]
        return {"rubric": rubric, "definition": definition, "models": models, "structured": self.structured,
                "context_k": self.context_k, "samples": self.samples}

    def judge_id(self, rubric: str) -> str:
        return sha256_json(self.identity(rubric))[:16]

    @property
    def column_judges(self) -> dict[str, dict[str, Any]]:
        """Each judged column's judge: its id, rubric and models, for metrics.json and the leaderboard."""
        return {
            column: {"judge_id": self.judge_id(name), "rubric": name, "models": [str(m.get("model")) for m in self.model_configs],
                     "samples": self.samples, "language": self.language, "context_chunks": self.context_k}
            for name, spec in self.rubric_defs.items() for column in spec.columns
        }

    def _conversation(self, rubric: str, query: Query, answer: str, context: Sequence[Chunk]) -> list[dict[str, str]]:
        fields = {
            "question": query.question,
            "reference": " | ".join(query.answers),
            "answer": answer,
            "context": "\n\n".join(c.text for c in context[: self.context_k]),
        }
        return render(self._prompt(rubric), **fields)

    def _prompt(self, rubric: str) -> dict[str, Any]:
        """The prompt this judge uses for ``rubric``: the one for its language where the rubric has one."""
        return self.rubric_defs[rubric].prompt_for(self.language)

    def _jobs(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]
              ) -> tuple[list[tuple[int, str]], list[list[dict[str, str]]], list[dict[str, Any]]]:
        """(the (query index, rubric) pairs to ask, their conversations, an empty verdict per query)."""
        by_query = {g.query_id: g for g in generations}
        jobs: list[tuple[int, str]] = []
        conversations = []
        verdicts = []
        for i, q in enumerate(queries):
            gen = by_query.get(q.query_id)
            skipped = "no generation" if gen is None else ("generation failed" if gen.error else None)
            verdicts.append({"query_id": q.query_id, "skipped": skipped, "raw": {}, "errors": {}, "stalled": {}, "usage": {}, "scores": {}})
            if skipped:
                continue
            context = [chunks[cid] for cid in gen.context_chunk_ids if cid in chunks]
            cited = [chunks[cid] for cid in gen.citations or () if cid in chunks]
            for rubric in self.rubrics:
                spec = self.rubric_defs[rubric]
                if spec.needs_reference and not q.answers:
                    continue
                if spec.context == "cited" and not cited:
                    continue
                jobs.append((i, rubric))
                conversations.append(self._conversation(rubric, q, gen.answer, cited if spec.context == "cited" else context))
        return jobs, conversations, verdicts

    def planned_calls(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> list[LLMCalls]:
        """What ``judge`` would ask, per judge model (its samples included), counted without asking: each
        conversation's tokens as that model's backend counts them, each reply at its rubric's max_tokens, one batch a
        rubric as ``judge`` sends them."""
        jobs, conversations, _ = self._jobs(queries, generations, chunks)
        batches = [[n for n, (_, r) in enumerate(jobs) if r == rubric] for rubric in self.rubrics]
        out = []
        for model_cfg in self.model_configs:
            backend = build_backend(model_cfg)
            limit = {rubric: self._prompt(rubric).get("max_tokens") or backend.max_tokens for rubric in self.rubrics}
            per_rubric = [backend.planned([conversations[n] for n in idx], [limit[jobs[n][1]] for n in idx]) for idx in batches]
            out.append(functools.reduce(operator.add, per_rubric).times(self.samples))
        return out

    def judge(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> list[dict[str, Any]]:
        """One verdict dict per query: ``{query_id, skipped, raw: {rubric: [reply per model and sample]}, errors,
        stalled, usage: {rubric: {prompt_tokens, completion_tokens}}, scores: {column: {score, members, samples,
        agreement}}}``; replies are ordered model by model, each model's samples together."""
        jobs, conversations, verdicts = self._jobs(queries, generations, chunks)
        for model_cfg in self.model_configs:
            backend = build_backend(model_cfg)
            for sample in range(self.samples):
                completions = self._complete_by_rubric(self._reseeded(backend, sample), jobs, conversations)
                for (i, rubric), completion in zip(jobs, completions):
                    self._record(verdicts[i], rubric, completion, backend)
        for v in verdicts:
            for rubric, replies in v["raw"].items():
                for column, read in self.rubric_defs[rubric].columns.items():
                    v["scores"][column] = self._column_score(read, replies, v["errors"][rubric])
        return verdicts

    def _reseeded(self, backend, sample: int):
        """The backend drawing sample ``sample``: its seed moved by ``sample`` (the loaded model is shared)."""
        if sample == 0:
            return backend
        other = copy.copy(backend)
        other.seed = (backend.seed or 0) + sample
        return other

    def _record(self, verdict: dict[str, Any], rubric: str, completion: Any, backend: Any) -> None:
        max_tokens = self._prompt(rubric).get("max_tokens") or backend.max_tokens
        readable = any(read(completion.text) is not None for read in self.rubric_defs[rubric].columns.values())
        stalled = completion.error is None and not readable and completion.completion_tokens >= max_tokens
        verdict["raw"].setdefault(rubric, []).append(completion.text)
        verdict["errors"].setdefault(rubric, []).append(completion.error)
        verdict["stalled"][rubric] = verdict["stalled"].get(rubric, 0) + stalled
        usage = verdict["usage"].setdefault(rubric, {"prompt_tokens": 0, "completion_tokens": 0})
        usage["prompt_tokens"] += completion.prompt_tokens
        usage["completion_tokens"] += completion.completion_tokens

    def _column_score(self, read, replies: list[str], errors: list[str | None]) -> dict[str, Any]:
        """Each model's majority vote over its samples, the share of its readable samples that agree with the
        vote, and the panel's score (the mean of the models' votes)."""
        scores = [None if err else read(text) for text, err in zip(replies, errors)]
        per_model = [scores[m * self.samples : (m + 1) * self.samples] for m in range(len(self.model_configs))]
        votes = [jm.majority_vote(s) for s in per_model]
        return {
            "members": [vote for vote, _ in votes], "agreement": [agree for _, agree in votes],
            "samples": per_model, "score": jm.panel_score([vote for vote, _ in votes]),
        }

    def _complete_by_rubric(self, backend, jobs, conversations):
        """One backend batch per rubric, so each carries its own JSON schema; results in job order."""
        out = [None] * len(jobs)
        for rubric in self.rubrics:
            idx = [n for n, (_, r) in enumerate(jobs) if r == rubric]
            if not idx:
                continue
            schema = self.rubric_defs[rubric].schema if self.structured else None
            batch = [conversations[n] for n in idx]
            completions = backend.complete(batch, json_schema=schema, desc=f"judge:{rubric}", max_tokens=self._prompt(rubric).get("max_tokens"))
            for n, completion in zip(idx, completions):
                out[n] = completion
        return out
