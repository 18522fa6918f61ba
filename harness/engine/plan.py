"""What a run will ask of language models, before it asks (``ragsweep plan``).

The run's pipeline runs in plan mode: the stages that ask no model (load, chunk, index, retrieve, rerank, and an
extractive generator) run as in a real run and are cached for it, so each LLM prompt is built from the very
ranking the run will use and counted with the model's own tokenizer; completions are counted at their max_tokens
bound. An LLM stage the cache already holds costs nothing and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragsweep import runtime
from ragsweep.engine.brackets import KINDS as BRACKETS
from ragsweep.engine.config_checks import validate_run_config
from ragsweep.engine.pipeline import Components, Pipeline, plain_config
from ragsweep.scoring.records import cost_usd
from ragsweep.store.cache import StageCache
from ragsweep.store.results import configuration
from ragsweep.types import LLMCalls

LLM_STAGES = ("generate", *(f"bracket_{kind}" for kind in BRACKETS), "judge", "assess")


@dataclass(frozen=True)
class RunPlan:
    label: str  # the run's components
    queries: int
    stages: dict[str, str]  # stage -> hit (cached before), computed (by the plan, cached now), planned, skipped
    planned: dict[str, list[LLMCalls] | None]  # LLM stage to run -> its calls per model (None: not counted)
    pricing: dict[str, dict[str, float]]  # model -> {input_per_mtok, output_per_mtok}

    @property
    def calls(self) -> list[LLMCalls]:
        return [c for calls in self.planned.values() for c in calls or ()]

    @property
    def uncounted(self) -> list[str]:
        """LLM stages that will run but whose calls their component cannot count."""
        return [stage for stage, calls in self.planned.items() if calls is None]

    def seconds(self, costs: dict[tuple[str, str], "TokenCost"]) -> float | None:
        """The LLM stages' time on this machine (replies at their bound), at the costs ``measured_costs`` read;
        None when a backend and model with calls has no measured cost."""
        total = 0.0
        for c in self.calls:
            if c.calls:
                if (cost := costs.get((c.backend, c.model))) is None:
                    return None
                total += cost.seconds(c)
        return total

    def usd(self) -> float | None:
        """At the configured prices; None when a model with calls has no price."""
        called = [c for c in self.calls if c.calls]
        if any(c.model not in self.pricing for c in called):
            return None
        return sum(cost_usd(c.prompt_tokens, c.completion_tokens, self.pricing[c.model]) for c in called)


def plan_run(config: dict[str, Any], choices: dict[str, str], overrides: list[str]) -> RunPlan:
    """Plan one resolved run config, labelled as its run folder will be (its configuration)."""
    plain = plain_config(config)
    validate_run_config(plain)
    with runtime.RunContext(Path(plain["cache_dir"]), bars=False).active():
        pipeline = Pipeline(plain, StageCache(plain["cache_dir"]), progress=False, plan_only=True)
        result = pipeline.run()
    label = configuration(choices, plain, overrides)
    return RunPlan(label, len(result.queries), {k: v.status for k, v in pipeline.stages.items()}, dict(pipeline.planned),
                   dict(plain.get("pricing") or {}))


def asks_a_model(config: dict[str, Any]) -> bool:
    """Whether a run has an LLM stage, read from its components before any stage runs: a judge, an assessor, or a
    generator that counts calls (what it would ask for no question is None only for one that asks no model). The
    plan a sweep opens with plans only these runs, since planning runs the other stages one run at a time."""
    plain = plain_config(config)
    validate_run_config(plain)
    parts = Components.build(plain)
    generator = parts.generator
    return parts.judge is not None or parts.assessor is not None or (generator is not None and generator.planned_calls([], []) is not None)


@dataclass(frozen=True)
class TokenCost:
    """Seconds one backend serving one model on this machine spends on each unit of an LLM stage's work
    (llm/work.py): a prompt token evaluated, an attention pair, a reply token, a decoding step."""

    per_evaluated_token_s: float
    per_attention_pair_s: float
    per_reply_token_s: float
    per_decode_step_s: float

    def seconds(self, calls: LLMCalls) -> float:
        return float(np.dot(self._costs(), work_units(calls)))

    def _costs(self) -> np.ndarray:
        return np.array([self.per_evaluated_token_s, self.per_attention_pair_s, self.per_reply_token_s, self.per_decode_step_s])


def work_units(calls: LLMCalls) -> np.ndarray:
    return np.array([calls.evaluated_tokens, calls.attention_pairs, calls.completion_tokens, calls.decode_steps], dtype=float)


def fit_token_cost(rows: list[tuple[LLMCalls, float]]) -> TokenCost | None:
    """(the work of a timed call, its wall seconds) -> the cost of each unit, least squares with none negative.
    The units cost differently (evaluating prompt tokens is a matrix multiply; a decoding step reads every weight
    once, however many conversations it holds; attention grows with the length of a conversation), and the bench's
    workloads, batched and one at a time, short and long, mix them differently enough to tell them apart. None with
    fewer calls than units."""
    if len(rows) < 4:
        return None
    from scipy.optimize import nnls

    units = np.array([work_units(calls) for calls, _ in rows])
    walls = np.array([wall for _, wall in rows], dtype=float)
    scale = np.maximum(units.max(axis=0), 1.0)  # columns of one order, so that nnls converges on any of them
    costs, _ = nnls(units / scale, walls)
    return TokenCost(*(float(c) for c in costs / scale))


def measured_costs(bench_file: Path) -> dict[tuple[str, str], TokenCost]:
    """(backend, model) -> its unit costs, fitted on every repeat, single stream and batched, of every workload this
    machine measured (``ragsweep bench generation`` writes the file); empty where nothing was measured with real
    weights, or by a bench older than the work it records."""
    try:
        result = json.loads(bench_file.read_text("utf-8"))
        if result.get("load_format") == "dummy":
            return {}
        costs = {}
        for measured in result.values():
            if isinstance(measured, dict) and "generate" in measured.get("workloads", {}):
                rows = [(LLMCalls(**r["work"]), float(r["wall_s"]))
                        for workload in measured["workloads"].values() for mode in ("single", "batched") for r in workload[mode]["repeats"]]
                if rows and (cost := fit_token_cost(rows)) is not None:
                    costs[(rows[0][0].backend, rows[0][0].model)] = cost
        return costs
    except (OSError, ValueError, KeyError, TypeError):
        return {}
