"""ragas's metrics as a judge of its own (``judge=ragas``, configs/judge/ragas.yaml; never run unless asked
for: about 10 long LLM calls per query). It runs them on our records, with one of our chat backends as ragas's LLM and our embedder
as its embeddings (ragas pinned in pyproject; the installed version lands in run.json's packages).

ragas 0.4's collections metrics need an instructor-wrapped OpenAI client, which a local transformers
model does not have; its legacy metric classes accept any ``BaseRagasLLM``, so the bridge implements that
interface over ``ChatBackend.complete``. Metric definitions: docs/metrics.md#ragas (legacy
answer relevancy gates on *all* generations being noncommittal since 0.3.6). A sample ragas could not
score (unparseable LLM output, a failed call) comes back NaN and is counted as invalid, not as 0.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from ragsweep.errors import ConfigError
from ragsweep.llm.base import ChatBackend, backend_modules, build_backend
from ragsweep.registry import JUDGES
from ragsweep.types import Chunk, Generation, Query

log = logging.getLogger(__name__)

# Our metric names -> ragas legacy classes (module, class).
RAGAS_METRICS = {
    "faithfulness": ("ragas.metrics._faithfulness", "Faithfulness"),
    "answer_relevancy": ("ragas.metrics._answer_relevance", "ResponseRelevancy"),
    "context_precision": ("ragas.metrics._context_precision", "LLMContextPrecisionWithReference"),
    "context_recall": ("ragas.metrics._context_recall", "LLMContextRecall"),
    "answer_correctness": ("ragas.metrics._answer_correctness", "AnswerCorrectness"),
}


def _ragas_llm_class():
    from langchain_core.outputs import Generation as LCGeneration
    from langchain_core.outputs import LLMResult
    from ragas.llms.base import BaseRagasLLM

    @dataclass
    class BackendLLM(BaseRagasLLM):
        """ragas's LLM interface over a ChatBackend; calls are serialised (one local model, one at a time)."""

        backend: ChatBackend | None = None
        lock: Any = field(default_factory=threading.Lock, repr=False)

        def generate_text(self, prompt, n=1, temperature=0.01, stop=None, callbacks=None) -> LLMResult:
            conversation = [{"role": "user", "content": prompt.to_string()}]
            with self.lock:
                completions = self.backend.complete([conversation] * n, desc="ragas")
            failed = next((c.error for c in completions if c.error), None)
            if failed:
                raise RuntimeError(failed)
            return LLMResult(generations=[[LCGeneration(text=c.text) for c in completions]])

        async def agenerate_text(self, prompt, n=1, temperature=0.01, stop=None, callbacks=None) -> LLMResult:
            return await asyncio.to_thread(self.generate_text, prompt, n, temperature, stop, callbacks)

        def is_finished(self, response: LLMResult) -> bool:
            return True

    return BackendLLM


def _ragas_embeddings(model_id: str):
    from ragas.embeddings.base import BaseRagasEmbeddings

    from ragsweep.models.embedders import embed

    class Embedder(BaseRagasEmbeddings):
        def embed_query(self, text: str) -> list[float]:
            return embed(model_id, [text], role="query")[0].tolist()

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embed(model_id, texts).tolist()

        async def aembed_query(self, text: str) -> list[float]:
            return self.embed_query(text)

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embed_documents(texts)

    return Embedder()


def ragas_scores(
    config: dict[str, Any],
    model_config: dict[str, Any],
    queries: Sequence[Query],
    generations: dict[str, Generation],
    chunks: dict[str, Chunk],
    context_k: int,
) -> dict[str, dict[str, float | None]]:
    """``{query_id: {"ragas_<metric>": score or None}}`` for the first ``max_queries`` judged queries."""
    import importlib

    from ragas import EvaluationDataset, RunConfig, evaluate

    names = list(config["metrics"])
    unknown = [n for n in names if n not in RAGAS_METRICS]
    if unknown:
        raise ConfigError(f"unknown ragas metrics {unknown}; known: {sorted(RAGAS_METRICS)}")
    eligible = [q for q in queries if (g := generations.get(q.query_id)) is not None and not g.error and q.answers]
    eligible = eligible[: config.get("max_queries") or None]
    if not eligible:
        return {}
    samples = [
        {
            "user_input": q.question,
            "response": generations[q.query_id].answer or " ",
            "retrieved_contexts": [chunks[c].text for c in generations[q.query_id].context_chunk_ids[:context_k] if c in chunks] or [" "],
            "reference": " | ".join(q.answers),
        }
        for q in eligible
    ]
    llm = _ragas_llm_class()(backend=build_backend(model_config))
    metrics = [getattr(importlib.import_module(mod), cls)() for mod, cls in (RAGAS_METRICS[n] for n in names)]
    for metric in metrics:  # ragas re-asks the LLM to fix unparseable output this many times
        metric.max_retries = config.get("parse_retries", 1)
    result = evaluate(
        EvaluationDataset.from_list(samples),
        metrics=metrics,
        llm=llm,
        embeddings=_ragas_embeddings(config["embedder"]),
        run_config=RunConfig(max_workers=1, timeout=900, max_retries=1),
        raise_exceptions=False,
        show_progress=False,
    )
    frame = result.to_pandas()
    out: dict[str, dict[str, float | None]] = {}
    for q, (_, row) in zip(eligible, frame.iterrows()):
        out[q.query_id] = {}
        for name, metric in zip(names, metrics):
            value = row.get(metric.name)
            out[q.query_id][f"ragas_{name}"] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    return out


@JUDGES.register("ragas")
class RagasJudge:
    """ragas's metrics with the first of ``models`` as ragas's LLM and ``embedder`` as its embeddings, on the
    first ``max_queries`` answered questions that have a reference."""

    version = "1"
    label_params: tuple[str, ...] = ()

    def __init__(
        self, models: Sequence[dict[str, Any]], metrics: Sequence[str], max_queries: int | None = 2, parse_retries: int = 0,
        embedder: str = "bundled:all-MiniLM-L6-v2", context_k: int = 3, invalid_policy: str = "exclude",
    ):
        unknown = [m for m in metrics if m not in RAGAS_METRICS]
        if unknown or not metrics:
            raise ConfigError(f"judge.metrics: unknown or no ragas metrics {unknown}; known: {', '.join(sorted(RAGAS_METRICS))}")
        if not models:
            raise ConfigError("a judge needs at least one model (judge.models)")
        self.model_configs = [dict(m) for m in models]
        self.config = {"metrics": list(metrics), "max_queries": max_queries, "parse_retries": parse_retries, "embedder": embedder}
        self.context_k, self.invalid_policy = context_k, invalid_policy

    lower_is_better: list[str] = []  # every ragas metric is better higher
    headline_columns: list[str] = []  # ragas columns are shown, not tracked by the gate by default
    column_judges: dict[str, dict[str, Any]] = {}  # ragas does not expose a judge identity per column

    @property
    def code_modules(self) -> tuple[str, ...]:
        """The backend's module (ragas's LLM): part of the judge stage's key beside this module's code."""
        return backend_modules(self.model_configs[:1])

    def planned_calls(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> None:
        """None: ragas builds its prompts (and how many per sample) inside its metrics, so they are not counted."""
        return None

    def judge(self, queries: Sequence[Query], generations: Sequence[Generation], chunks: dict[str, Chunk]) -> list[dict[str, Any]]:
        os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas's usage tracking calls home otherwise
        by_query = {g.query_id: g for g in generations}
        rows = ragas_scores(self.config, self.model_configs[0], queries, by_query, chunks, self.context_k)
        verdicts = []
        for q in queries:
            gen = by_query.get(q.query_id)
            skipped = "no generation" if gen is None else ("generation failed" if gen.error else None)
            verdicts.append({"query_id": q.query_id, "skipped": skipped, "raw": {}, "errors": {}, "scores": {}, "ragas": rows.get(q.query_id, {})})
        return verdicts
