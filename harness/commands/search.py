"""``ragsweep search NAME [overrides] [--trials N] [--holdout F] [--seed S] [--metric M]``: Optuna's TPE over the
numeric settings the preset's ``search.space`` names, each proposal one cached run on the search questions, and the
best proposal scored once on questions the search never saw.

    ragsweep search search_chunking                 # chunk size on chroma_general (RAGSWEEP_DATA)
    ragsweep search search_chunking task=span_mini --trials 6

A preset's ``search`` block: ``space`` (key -> {type: int|float|categorical, low, high, step, log, choices}),
``trials``, ``holdout`` (the share of questions held out) and ``metric`` (default: the suite's headline). The
preset's own sweep axes over the searched keys are replaced by the search's proposals; any other axis must be fixed on
the command line (a search is over one suite and one configuration otherwise). Prints the history, the best point
and its held-out score; writes ``<results>/searches/<sweep>/<suite>.json``, which the leaderboard shows with its
suite.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from ragsweep.commands.check import ComposedRun, compose_runs
from ragsweep.commands.cli import results_root_problem
from ragsweep.engine.search import parse_space, run_search, search_table, write_search
from ragsweep.errors import ConfigError
from ragsweep.help_text import plain_doc
from ragsweep.logs import setup_logging
from ragsweep.paths import results_root

log = logging.getLogger("ragsweep.commands.search")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ragsweep search", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("preset", help="a sweep preset with a search block (configs/sweep/<NAME>.yaml)")
    p.add_argument("--trials", type=int, default=None, help="proposals to score (default: the preset's search.trials)")
    p.add_argument("--holdout", type=float, default=None, help="share of questions held out for the best point (default: search.holdout)")
    p.add_argument("--seed", type=int, default=0, help="TPE's seed and the question split (default 0)")
    p.add_argument("--metric", default=None, help="the metric, every question scored, in [0, 1] (default: search.metric, else the headline)")
    return p


def one_suite(preset: str, runs: list[ComposedRun]) -> list[ComposedRun]:
    suites = {json.dumps(r.config["task"], sort_keys=True, default=str) for r in runs}
    if len(suites) > 1:
        raise ConfigError(f"a search runs on one suite: {preset} sweeps {len(suites)}; choose one on the command line (task=...)")
    return runs


def composer(preset: str, overrides: list[str]) -> Any:
    """``compose(params)``: the one run config for a proposal's values."""

    def compose(params: dict[str, Any]) -> ComposedRun:
        runs = one_suite(preset, compose_runs([f"+sweep={preset}", *overrides, *(f"{k}={v}" for k, v in params.items())]))
        if len(runs) != 1:
            values: dict[str, set[str]] = {}
            for r in runs:
                for o in r.overrides:
                    key, _, value = o.partition("=")
                    values.setdefault(key, set()).add(value)
            swept = sorted(k for k, v in values.items() if len(v) > 1)
            raise ConfigError(f"a search proposes one run at a time, but {preset} also sweeps {', '.join(swept)}: fix them on the command line")
        return runs[0]

    return compose


def main(argv: list[str]) -> int:
    args, overrides = parser().parse_known_args(argv)
    setup_logging()
    if problem := results_root_problem(overrides):  # before any work, not when the search is written
        raise ConfigError(problem)
    grid = one_suite(args.preset, compose_runs([f"+sweep={args.preset}", *overrides]))  # the preset as a sweep: its full grid
    base = grid[0]
    block = base.config.get("search")
    if not isinstance(block, dict):
        raise ConfigError(f"sweep {args.preset} has no search block (search.space, search.trials, search.holdout): see configs/sweep/search_chunking.yaml")
    space = parse_space(block.get("space"))
    trials = args.trials if args.trials is not None else block.get("trials", 10)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"search trials must be a whole number >= 1, not {trials!r}")
    holdout = args.holdout if args.holdout is not None else block.get("holdout", 0.3)
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 < holdout < 1:
        raise ConfigError(f"search holdout must be a share of the questions in (0, 1), not {holdout!r}")
    result = run_search(composer(args.preset, overrides), space, trials, float(holdout), args.seed, args.metric or block.get("metric"),
                        len(grid) if len(grid) > 1 else None)
    print(search_table(result), flush=True)
    log.info("search written to %s", write_search(result, results_root() / "searches" / str(base.config.get("sweep_name") or args.preset)))
    return 0
