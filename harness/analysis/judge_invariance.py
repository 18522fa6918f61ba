"""``ragsweep judge-invariance --sweeps A,B --metric judge_faithfulness``: do two judges rank the same systems alike?

Two sweeps that ran the same configurations on the same data, each judged by a different judge (run the sweep
twice with another ``judge=`` and ``sweep_name=``). Configurations are paired by their components other than the
judge and by data identity; each configuration's score is its mean of ``--metric`` over the queries every
paired run scored. Reported: Kendall's tau-b between the two judges' orderings of the configurations, with a
95% bootstrap interval over queries (the same resampled queries for every configuration and both judges), and
how often the two judges' per-query verdicts agree (Cohen's kappa over every configuration's queries), which
can be low while the ranking holds ("Judging the Judges" found labels vary across judges while system rankings
stay stable). Written to results/judge_invariance/<A>__vs__<B>__<metric>.json.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Sequence

from ragsweep.analysis.leaderboard import JUDGED_PREFIXES, load_runs, per_query
from ragsweep.errors import ConfigError
from ragsweep.metrics.agreement import bootstrap_interval, cohen_kappa, kendall_tau_b
from ragsweep.paths import results_root
from ragsweep.store.results import GROUPS, write_json
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.judge_invariance")


def configuration(run: dict[str, Any]) -> tuple:
    """What a run measured apart from its judge: its data and every other component."""
    components = run["metrics"]["components"]
    return (run["metrics"].get("data_identity"), *(components.get(g) for g in GROUPS if g != "judge"))


def paired_runs(runs: list[dict[str, Any]], sweep_a: str, sweep_b: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(run of A, run of B) per configuration both sweeps ran; a configuration run twice in a sweep is an error."""
    by_sweep: dict[str, dict[tuple, dict[str, Any]]] = {sweep_a: {}, sweep_b: {}}
    for run in runs:
        sweep = run["metrics"].get("sweep")
        if sweep in by_sweep:
            if configuration(run) in by_sweep[sweep]:
                raise ConfigError(f"sweep {sweep!r} holds two runs of one configuration ({by_sweep[sweep][configuration(run)]['path'].name} and "
                                  f"{run['path'].name}): remove one, so each configuration has one score per judge")
            by_sweep[sweep][configuration(run)] = run
    shared = [k for k in by_sweep[sweep_a] if k in by_sweep[sweep_b]]
    return [(by_sweep[sweep_a][k], by_sweep[sweep_b][k]) for k in sorted(shared, key=str)]


def column_means(rows: Sequence[Sequence[float]]) -> list[float]:
    return [sum(column) / len(column) for column in zip(*rows)]


def ranking_tau(rows_a: Sequence[Sequence[float]], rows_b: Sequence[Sequence[float]]) -> float:
    """Kendall's tau-b between the configurations' mean scores under each judge (rows: queries; columns: configs)."""
    return kendall_tau_b(column_means(rows_a), column_means(rows_b))


def invariance(pairs: list[tuple[dict[str, Any], dict[str, Any]]], metric: str, seed: int) -> dict[str, Any]:
    for run in (r for pair in pairs for r in pair):  # a column no judge wrote would "agree" perfectly with itself
        judged = sorted(run["metrics"].get("judges") or {})
        if not (metric in judged or metric.startswith(JUDGED_PREFIXES)):
            raise ConfigError(f"--metric {metric!r} is not a judged column of run {run['path'].name} "
                              f"(its judged columns: {', '.join(judged) or 'none'}): judge-invariance compares two judges' verdicts")
    scores = [(per_query(a, metric), per_query(b, metric)) for a, b in pairs]
    queries = sorted(set.intersection(*(set(sa) & set(sb) for sa, sb in scores))) if scores else []
    if len(pairs) < 2 or len(queries) < 2:
        raise ConfigError(f"judge-invariance needs at least 2 configurations run by both sweeps and 2 queries every run scored on "
                          f"{metric!r}; found {len(pairs)} configurations and {len(queries)} queries")
    rows_a = [[sa[q] for sa, _ in scores] for q in queries]
    rows_b = [[sb[q] for _, sb in scores] for q in queries]
    tau = ranking_tau(rows_a, rows_b)
    low, high = bootstrap_interval(ranking_tau, rows_a, rows_b, seed=seed)
    verdicts_a = [v for row in rows_a for v in row]
    verdicts_b = [v for row in rows_b for v in row]
    clean = lambda x: None if x != x else x  # noqa: E731
    return {
        "metric": metric, "configurations": len(pairs), "queries": len(queries),
        "kendall_tau_b": {"value": clean(tau), "ci_low": clean(low), "ci_high": clean(high)},
        "verdict_agreement": {"share": sum(x == y for x, y in zip(verdicts_a, verdicts_b)) / len(verdicts_a),
                              "cohen_kappa": clean(cohen_kappa(verdicts_a, verdicts_b)), "verdicts": len(verdicts_a)},
        "runs": [{"a": a["path"].name, "b": b["path"].name, "mean_a": m_a, "mean_b": m_b}
                 for (a, b), m_a, m_b in zip(pairs, column_means(rows_a), column_means(rows_b))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep judge-invariance", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweeps", required=True, help="the two sweeps, A,B: the same configurations judged by two judges")
    parser.add_argument("--metric", required=True, help="the judged column to rank by, e.g. judge_faithfulness")
    parser.add_argument("--runs", type=Path, default=None, help="default results/runs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap interval")
    parser.add_argument("--out", type=Path, default=None, help="where the JSON report goes (default: under the results folder)")
    args = parser.parse_args(argv)
    setup_logging()
    sweeps = args.sweeps.split(",")
    if len(sweeps) != 2 or sweeps[0] == sweeps[1]:
        raise ConfigError(f"--sweeps takes two different sweep names, A,B, not {args.sweeps!r}")
    report = {"sweeps": sweeps, **invariance(paired_runs(load_runs(args.runs or results_root() / "runs"), *sweeps), args.metric, args.seed)}
    out = args.out or results_root() / "judge_invariance" / f"{sweeps[0]}__vs__{sweeps[1]}__{args.metric}.json"
    write_json(out, report, "point --out at a writable folder" if args.out else None)
    tau = report["kendall_tau_b"]
    log.info("%d configurations, %d queries: Kendall tau-b %s [%s, %s]; verdicts agree %.3f -> %s", report["configurations"], report["queries"],
             tau["value"], tau["ci_low"], tau["ci_high"], report["verdict_agreement"]["share"], out)
    return 0
