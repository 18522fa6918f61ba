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
    backend: str | None  # the generator's backend, for the machine's measured rate

    @property
    def calls(self) -> list[LLMCalls]:
        return [c for calls in self.planned.values() for c in calls or ()]

    @property
    def uncounted(self) -> list[str]:
        """LLM stages that will run but whose calls their component cannot count."""
        return [stage for stage, calls in self.planned.items() if calls is None]

    def seconds(self, costs: dict[tuple[str, str], "TokenCost"]) -> float | None:
        """The generation's time on this machine (generate and its brackets, replies at their bound), at the costs
        ``measured_costs`` read; None without a measured cost for the generator's backend and model."""
        total = 0.0
        for stage, calls in self.planned.items():
            if stage == "generate" or stage.startswith("bracket_"):
                for c in calls or ():
                    if (cost := costs.get((self.backend or "", c.model))) is None:
                        return None
                    total += cost.seconds(c.prompt_tokens, c.completion_tokens)
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
    generator = plain["generator"]
    return RunPlan(label, len(result.queries), {k: v.status for k, v in pipeline.stages.items()}, dict(pipeline.planned),
                   dict(plain.get("pricing") or {}), generator.get("backend") if generator["name"] == "llm" else None)


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
    """Seconds a prompt token and a completion token cost one backend serving one model on this machine."""

    per_prompt_token_s: float
    per_completion_token_s: float

    def seconds(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens * self.per_prompt_token_s + completion_tokens * self.per_completion_token_s


def fit_token_cost(rows: list[tuple[int, int, float]]) -> TokenCost | None:
    """(prompt tokens, completion tokens, wall seconds) of batched calls -> the two per-token costs, least squares
    with neither negative. Prompts and replies cost differently (evaluating a prompt is a matrix multiply, a reply a
    weight read a token), and the bench's workloads mix them differently enough to tell them apart; None with fewer
    than two calls."""
    if len(rows) < 2:
        return None
    import numpy as np
    from scipy.optimize import nnls

    tokens = np.array([[p, c] for p, c, _ in rows], dtype=float)
    walls = np.array([w for *_, w in rows], dtype=float)
    (prompt_s, completion_s), _ = nnls(tokens, walls)
    return TokenCost(float(prompt_s), float(completion_s))


def measured_costs(bench_file: Path) -> dict[tuple[str, str], TokenCost]:
    """(backend, model) -> its per-token costs, fitted on every batched repeat of every workload this machine measured
    (``ragsweep bench generation`` writes the file); empty where nothing was measured with real weights."""
    try:
        result = json.loads(bench_file.read_text("utf-8"))
        if result.get("load_format") == "dummy":
            return {}
        model = str(result["model"])
        costs = {}
        for backend, measured in result.items():
            if isinstance(measured, dict) and "generate" in measured.get("workloads", {}):
                rows = [(int(r["prompt_tokens"]), int(r["completion_tokens"]), float(r["wall_s"]))
                        for workload in measured["workloads"].values() for r in workload["batched"]["repeats"]]
                if (cost := fit_token_cost(rows)) is not None:
                    costs[(backend, model)] = cost
        return costs
    except (OSError, ValueError, KeyError, TypeError):
        return {}
