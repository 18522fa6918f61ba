"""``ragsweep plan NAME [overrides] [--max-usd X] [--max-tokens N]``: what a sweep will ask of language models
before it asks.

    ragsweep plan generation task.limit=8
    ragsweep plan judge --max-usd 2.50

Lists every run of the sweep preset with the stages the cache already holds, then each LLM stage still to run:
its calls, prompt tokens (each prompt built from the run's own ranking and counted with the model's tokenizer)
and completion tokens at their max_tokens bound, the USD at the configured prices (``pricing``) and the time
this machine's measured costs give (``ragsweep bench generation``). The stages that ask no model run now and
are cached, so the sweep that follows starts where the plan stopped.

``--brief`` prints one line, the one every ``ragsweep sweep`` opens with: the runs, how many have an LLM stage, and
the totals; only those runs are planned (planning runs a run's other stages one run at a time, where the sweep
would run them in parallel jobs).

With ``--max-usd`` or ``--max-tokens`` it exits 1 when the sweep would go over (or when a stage's calls cannot
be counted, or a model has no price), so ``ragsweep plan NAME --max-usd 5 && ragsweep sweep NAME`` never starts
a sweep over budget.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

from ragsweep.commands.check import compose_runs
from ragsweep.engine.plan import LLM_STAGES, RunPlan, TokenCost, asks_a_model, measured_costs, plan_run
from ragsweep.errors import ConfigError, RagsweepError
from ragsweep.help_text import plain_doc
from ragsweep.logs import setup_logging
from ragsweep.paths import results_root

log = logging.getLogger("ragsweep.commands.plan")


@dataclass(frozen=True)
class Totals:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    usd: float | None  # None: some model with calls has no price
    seconds: float | None  # None: no measured cost for some backend and model with calls
    uncounted: list[str]  # "run: stage" whose calls could not be counted

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def totals(plans: list[RunPlan], costs: dict[tuple[str, str], TokenCost]) -> Totals:
    calls = [c for p in plans for c in p.calls]
    usds = [p.usd() for p in plans]
    seconds: float | None = 0.0
    for p in plans:
        run_seconds = p.seconds(costs)
        seconds = None if run_seconds is None or seconds is None else seconds + run_seconds
    return Totals(sum(c.calls for c in calls), sum(c.prompt_tokens for c in calls), sum(c.completion_tokens for c in calls),
                  None if None in usds else sum(u for u in usds if u is not None), seconds,
                  [f"{p.label}: {s}" for p in plans for s in p.uncounted])


def plan_table(plans: list[RunPlan], costs: dict[tuple[str, str], TokenCost]) -> str:
    """One line per run: its queries, the stages cached before the plan, each LLM stage to run, and its price and
    time where known (at ``costs``, this machine's measured unit costs)."""
    lines = []
    for p in plans:
        cached = [s for s, status in p.stages.items() if status == "hit"]
        todo = []
        for stage in LLM_STAGES:
            if stage in p.planned:
                calls = p.planned[stage]
                todo.append(f"{stage}: not counted" if calls is None else
                            f"{stage}: " + "; ".join(f"{c.calls} calls to {c.model}, {c.prompt_tokens:,} prompt + at most {c.completion_tokens:,} "
                                                     "completion tokens" for c in calls))
            elif p.stages.get(stage) == "hit":
                todo.append(f"{stage}: cached")
        usd, seconds = p.usd(), p.seconds(costs)
        lines.append(f"{p.label} ({p.queries} queries)\n    cached before: {', '.join(cached) or 'nothing'}\n    "
                     + ("\n    ".join(todo) or "no LLM stage") + ("" if usd is None or not p.calls else f"\n    USD {usd:.4f}")
                     + ("" if seconds is None or not p.calls else f"\n    LLM stages about {seconds:.1f} s"))
    return "\n".join(lines)


def totals_line(t: Totals) -> str:
    usd = "no price for some model (set pricing.<model>)" if t.usd is None else f"USD {t.usd:.4f}"
    time = ("time: no measured cost on this machine for some backend and model (ragsweep bench generation)" if t.seconds is None
            else f"about {t.seconds:.0f} s of LLM work on this machine (its measured unit costs, replies at their max_tokens)")
    line = f"total: {t.calls:,} LLM calls, {t.prompt_tokens:,} prompt + at most {t.completion_tokens:,} completion tokens; {usd}; {time}"
    return line + (f"; not counted: {', '.join(t.uncounted)}" if t.uncounted else "")


def brief_line(runs: int, plans: list[RunPlan], t: Totals, unplanned: list[str]) -> str:
    """The sweep's opening line: its runs, those with an LLM stage, what the cache already holds of their stages,
    and each run that could not be planned with why."""
    faults = "".join(f"; not planned, {why}" for why in unplanned)
    if not plans:
        return (f"plan: {runs} run(s), none with an LLM stage: nothing will be asked of a language model" if not unplanned else
                f"plan: {runs} run(s), none with an LLM stage among the {runs - len(unplanned)} planned{faults}")
    statuses = [status for p in plans for stage, status in p.stages.items() if stage in LLM_STAGES and status in ("hit", "planned")]
    held = f"{statuses.count('hit')} of {len(statuses)} LLM stages cached"
    return f"plan: {runs} run(s), {len(plans)} with an LLM stage ({held}); {totals_line(t)}{faults}"


def over_budget(t: Totals, max_usd: float | None, max_tokens: int | None) -> str | None:
    """Why the sweep may not start, or None."""
    if (max_usd is not None or max_tokens is not None) and t.uncounted:
        return f"cannot bound what is not counted: {', '.join(t.uncounted)}"
    if max_tokens is not None and t.tokens > max_tokens:
        return f"{t.tokens:,} tokens (prompt + completion at max_tokens) is over --max-tokens {max_tokens:,}"
    if max_usd is not None and t.usd is None:
        return "some model with calls has no price (pricing.<model>), so --max-usd cannot be checked"
    if max_usd is not None and t.usd is not None and t.usd > max_usd:
        return f"USD {t.usd:.4f} is over --max-usd {max_usd}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep plan", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", help="a sweep preset (configs/sweep/<NAME>.yaml)")
    parser.add_argument("--max-usd", type=float, default=None, help="exit 1 when the sweep would cost more")
    parser.add_argument("--max-tokens", type=int, default=None, help="exit 1 when its prompt + completion tokens would be more")
    parser.add_argument("--brief", action="store_true", help="one line (a sweep's opening line); plans only the runs with an LLM stage")
    args, overrides = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    setup_logging()
    for name, value in (("--max-usd", args.max_usd), ("--max-tokens", args.max_tokens)):
        if value is not None and not value >= 0:
            raise ConfigError(f"{name} must be >= 0, not {value}")
    runs = compose_runs([f"+sweep={args.preset}", *overrides])
    plans, unplanned = [], []
    for i, composed in enumerate(runs, start=1):
        try:
            if args.brief and not asks_a_model(composed.config):
                continue
            log.info("planning run %d of %d", i, len(runs))
            plans.append(plan_run(composed.config, composed.choices, composed.overrides))
        except Exception as err:
            if not args.brief:
                raise
            # The sweep's opening line: that run's job meets the same fault and the sweep goes on without it (a bad
            # config is its one line; a component's bug its type and first line, the traceback in the debug log).
            log.debug("planning %s failed", composed.overrides, exc_info=True)
            why = str(err).splitlines()[0] if str(err) else ""
            unplanned.append(f"{' '.join(composed.overrides)}: {why if isinstance(err, RagsweepError) else f'{type(err).__name__}: {why}'}")
    costs = measured_costs(results_root() / "bench" / "generation.json")
    t = totals(plans, costs)
    print(brief_line(len(runs), plans, t, unplanned) if args.brief else f"ragsweep plan {args.preset}: {len(plans)} run(s)\n{plan_table(plans, costs)}\n{totals_line(t)}", flush=True)
    if why := over_budget(t, args.max_usd, args.max_tokens):
        print(f"over budget: {why}", file=sys.stderr)
        return 1
    return 0
