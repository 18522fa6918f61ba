"""LLM-as-judge: NitiBench coverage + contradiction, CoFE-RAG correctness, faithfulness and relevance,
and the ragas bridge, on any chat backend or a panel of them.

Every call's raw reply is kept. A verdict that cannot be read, or a call that failed, is recorded as
invalid (score None) and counted; a query whose answer failed to generate is not judged and counted.
Which rubrics apply to a query depends on its gold: coverage and correctness need a reference answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ragsweep.llm.base import build_backend
from ragsweep.llm.prompting import render
from ragsweep.registry import JUDGES
from ragsweep.types import Chunk, Generation, Query
from ragsweep.metrics import judge as jm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rubric:
    needs_reference: bool
    columns: dict[str, Callable[[str], float | None]]  # record column -> reader of one raw reply
    schema: dict[str, Any]


def _label_schema(labels: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {"thought": {"type": "string"}, "score": {"enum": labels}}, "required": ["score"]}


_VERDICT_SCHEMA = {"type": "object", "properties": {"verdict": {"enum": ["YES", "NO"]}}, "required": ["verdict"]}

RUBRICS: dict[str, Rubric] = {
    "coverage": Rubric(
        True,
        {
            "judge_coverage": lambda raw: jm.coverage_score(jm.parse_json_object(raw)),
            "judge_contradiction": lambda raw: jm.contradiction_score(jm.parse_json_object(raw)),
        },
        {
            "type": "object",
            "properties": {
                "student_point": {"type": "array", "items": {"type": "string"}},
                "reference_point": {"type": "array", "items": {"type": "string"}},
                "coverage": _label_schema(list(jm.COVERAGE_POINTS)),
                "contradiction": _label_schema(list(jm.CONTRADICTION_POINTS)),
            },
            "required": ["coverage", "contradiction"],
        },
    ),
    "correctness": Rubric(
        True,
        {"judge_correctness": jm.correctness_score},
        {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "reasoning": {"type": "string"}}, "required": ["score"]},
    ),
    "faithfulness": Rubric(False, {"judge_faithfulness": jm.yes_no_score}, _VERDICT_SCHEMA),
    "relevance": Rubric(False, {"judge_relevance": jm.yes_no_score}, _VERDICT_SCHEMA),
    # Judged against the chunks the answer cites (citing generators only; answers without readable citations
    # are not judged for it and are counted in the citation summary).
    "attribution": Rubric(
        False,
        {"judge_attribution": jm.attribution_rate},
        {
            "type": "object",
            "properties": {"claims": {"type": "array", "minItems": 1, "items": {
                "type": "object", "properties": {"claim": {"type": "string"}, "supported": {"type": "boolean"}}, "required": ["claim", "supported"],
            }}},
            "required": ["claims"],
        },
    ),
}


@JUDGES.register("llm")
class LLMJudge:
    version = "1"
    label_params: tuple[str, ...] = ()

    def __init__(
        self,
        models: Sequence[dict[str, Any]],
        rubrics: Sequence[str],
        prompts: dict[str, Any],
        structured: bool = True,
        invalid_policy: str = "exclude",
        context_k: int = 3,
        ragas: dict[str, Any] | None = None,
    ):
        unknown = [r for r in rubrics if r not in RUBRICS or r not in prompts]
        if unknown:
            raise ValueError(f"rubrics without a definition or a prompt: {unknown}; known: {sorted(RUBRICS)}")
        if invalid_policy not in ("exclude", "zero"):
            raise ValueError(f"invalid_policy must be 'exclude' or 'zero', not {invalid_policy!r}")
        if not models:
            raise ValueError("a judge needs at least one model")
        self.model_configs = [dict(m) for m in models]
        self.rubrics, self.prompts, self.structured = list(rubrics), prompts, structured
        self.invalid_policy, self.context_k, self.ragas = invalid_policy, context_k, ragas or {}

    def _conversation(self, rubric: str, query: Query, answer: str, context: Sequence[Chunk]) -> list[dict[str, str]]:
        fields = {
            "question": query.question,
            "reference": " | ".join(query.answers),
            "answer": answer,
            "context": "\n\n".join(c.text for c in context[: self.context_k]),
        }
        return render(self.prompts[rubric], **fields)

    def judge(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> list[dict[str, Any]]:
        """One verdict dict per query: ``{query_id, skipped, raw: {rubric: [reply per model]}, errors, scores}``."""
        by_query = {g.query_id: g for g in generations}
        jobs: list[tuple[int, str]] = []
        conversations = []
        verdicts = []
        for i, q in enumerate(queries):
            gen = by_query.get(q.query_id)
            skipped = "no generation" if gen is None else ("generation failed" if gen.error else None)
            verdicts.append({"query_id": q.query_id, "skipped": skipped, "raw": {}, "errors": {}, "scores": {}})
            if skipped:
                continue
            context = [chunks[cid] for cid in gen.context_chunk_ids if cid in chunks]
            cited = [chunks[cid] for cid in gen.citations or () if cid in chunks]
            for rubric in self.rubrics:
                if RUBRICS[rubric].needs_reference and not q.answers:
                    continue
                if rubric == "attribution" and not cited:
                    continue
                jobs.append((i, rubric))
                conversations.append(self._conversation(rubric, q, gen.answer, cited if rubric == "attribution" else context))
        for model_cfg in self.model_configs:
            backend = build_backend(model_cfg)
            completions = self._complete_by_rubric(backend, jobs, conversations)
            for (i, rubric), completion in zip(jobs, completions):
                verdicts[i]["raw"].setdefault(rubric, []).append(completion.text)
                verdicts[i]["errors"].setdefault(rubric, []).append(completion.error)
        for v in verdicts:
            for rubric, replies in v["raw"].items():
                for column, read in RUBRICS[rubric].columns.items():
                    member_scores = [None if err else read(text) for text, err in zip(replies, v["errors"][rubric])]
                    v["scores"][column] = {"members": member_scores, "score": jm.panel_score(member_scores)}
        if self.ragas.get("metrics"):
            from ragsweep.judges.ragas_bridge import ragas_scores

            ragas_rows = ragas_scores(self.ragas, self.model_configs[0], queries, by_query, chunks, self.context_k)
            for v in verdicts:
                v["ragas"] = ragas_rows.get(v["query_id"], {})
        return verdicts

    def _complete_by_rubric(self, backend, jobs, conversations):
        """One backend batch per rubric, so each carries its own JSON schema; results in job order."""
        out = [None] * len(jobs)
        for rubric in self.rubrics:
            idx = [n for n, (_, r) in enumerate(jobs) if r == rubric]
            if not idx:
                continue
            schema = RUBRICS[rubric].schema if self.structured else None
            batch = [conversations[n] for n in idx]
            completions = backend.complete(batch, json_schema=schema, desc=f"judge:{rubric}", max_tokens=self.prompts[rubric].get("max_tokens"))
            for n, completion in zip(idx, completions):
                out[n] = completion
        return out
