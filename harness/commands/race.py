"""``ragsweep sweep NAME --race [overrides] [--alpha A] [--batch N] [--metric M] [--seed S] [--test T]``: a sweep that drops each
configuration as soon as it is shown worse than another, instead of running every configuration on every question.

    ragsweep sweep race_retrieval --race
    ragsweep sweep race_retrieval --race task=hotpotqa_sample --alpha 0.1

Prints, per suite, the configurations kept (each against the leader, with the race's simultaneous bounds), those
dropped (after how many questions, against which configuration) and the question evaluations, LLM tokens and
seconds against the full grid; writes the same as JSON to ``<results>/races/<sweep>/<suite>.json``. The family-wise
error ``--alpha`` holds over every pair and every look (docs/racing.md says how).
"""

from __future__ import annotations

import argparse
import logging

from ragsweep.commands.check import compose_runs
from ragsweep.engine.race import RaceSettings, race_table, run_race, suites, write_race
from ragsweep.errors import ConfigError
from ragsweep.help_text import plain_doc
from ragsweep.logs import setup_logging
from ragsweep.metrics.race import TESTS
from ragsweep.paths import results_root

log = logging.getLogger("ragsweep.commands.race")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragsweep sweep NAME --race", description=plain_doc(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", help="a sweep preset (configs/sweep/<NAME>.yaml)")
    parser.add_argument("--alpha", type=float, default=0.05, help="family-wise error over all pairs and looks (default 0.05)")
    parser.add_argument("--batch", type=int, default=None, help="questions per look (default: a twentieth of the suite, at least 5)")
    parser.add_argument("--metric", default=None, help="the metric to race on, in [0, 1] (default: the suite's headline)")
    parser.add_argument("--seed", type=int, default=0, help="the question order (default 0)")
    parser.add_argument("--test", choices=TESTS, default="asymptotic", help="the confidence sequence: asymptotic (default; its width "
                        "follows the metric's spread) or bounded (exact for metrics in [0, 1], needs more questions)")
    return parser


def main(argv: list[str]) -> int:
    args, overrides = parser().parse_known_args(argv)
    setup_logging()
    if not 0 < args.alpha < 1:
        raise ConfigError(f"--alpha must be in (0, 1), not {args.alpha}")
    if args.batch is not None and args.batch < 1:
        raise ConfigError(f"--batch must be at least 1, not {args.batch}")
    settings = RaceSettings(args.alpha, args.batch, args.metric, args.seed, args.test)
    runs = compose_runs([f"+sweep={args.preset}", *overrides])
    if not runs:
        raise ConfigError(f"sweep {args.preset} has no runs to race")
    folder = results_root() / "races" / str(runs[0].config.get("sweep_name") or args.preset)
    for entrants in suites(runs).values():
        result = run_race(entrants, settings)
        print(race_table(result), flush=True)
        log.info("race written to %s", write_race(result, folder))
    return 0
