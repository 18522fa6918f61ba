"""Is the race right, and what does it save? Checked against a full grid whose answer is known.

    ragsweep sweep race_retrieval                       # the full grid (every configuration, every question)
    ragsweep bench race --sweep race_retrieval          # 20 question orders of the race on those same scores

For each suite of the sweep's latest full run, the race is replayed on the grid's own per-question scores (a race
scores each question exactly as the full grid does, so its decisions on those values are the real race's) in
``--orders`` random question orders, and compared with the grid's answer: its best configuration, and the
configurations a paired permutation test on every question (Holm over the comparisons with the best, at
``--alpha``) shows worse than it (on the questions that have a value; a question no configuration has one on, such
as one without gold evidence, is set aside by the grid and the race alike). Reported per suite: whether the race kept the best and dropped every
significantly worse configuration, its question evaluations against the full grid's, and its false eliminations
(a configuration dropped although its mean over the whole suite is not below the one that dropped it). Where
``ragsweep sweep NAME --race`` wrote a race with the same settings, its decisions are checked to be the replay's.
Writes results/bench/race.json.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ragsweep.analysis.gate import latest_runs
from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep.engine.race import RaceSettings, question_order, suite_of
from ragsweep.errors import ConfigError, DataError
from ragsweep.help_text import plain_doc
from ragsweep.logs import setup_logging
from ragsweep.metrics.race import TESTS, looks, partly_missing, simulate
from ragsweep.metrics.significance import holm_rejections, paired_permutation_p
from ragsweep.paths import results_root

log = logging.getLogger("ragsweep.bench.race")


def grid_answer(scores: np.ndarray, names: Sequence[str], alpha: float) -> dict[str, Any]:
    """The full grid's answer: its best configuration (highest mean), and those a two-sided paired permutation test
    shows worse than the best, Holm-adjusted over the comparisons."""
    scores = scores[:, ~np.isnan(scores).all(axis=0)]  # questions no configuration has a value on (the race sets them aside)
    means = scores.mean(axis=1)
    best = int(np.argmax(means))
    others = [i for i in range(len(names)) if i != best]
    p = [paired_permutation_p(scores[i], scores[best], seed=0) for i in others]
    worse = [names[i] for i, r in zip(others, holm_rejections(p, alpha)) if r]
    return {"best": names[best], "means": dict(zip(names, map(float, means))), "significantly_worse": worse,
            "p_against_best": {names[i]: float(pi) for i, pi in zip(others, p)}}


def replay(scores: np.ndarray, names: Sequence[str], ids: Sequence[str], settings: RaceSettings) -> dict[str, Any]:
    """One race on a full grid's scores (configurations x questions in the suite's order), in the order ``settings.seed``
    draws."""
    position = {q: i for i, q in enumerate(ids)}
    order = [position[q] for q in question_order(ids, settings.seed)]
    race = simulate(scores, names, order, looks(len(ids), settings.batch_for(len(ids))), settings.alpha, settings.test)
    return {"seed": settings.seed, "kept": race.survivors, "evaluations": race.evaluations,
            "dropped": {e.name: {"after": e.after, "by": e.by} for e in race.eliminated.values()}}


def judge_races(answer: dict[str, Any], races: list[dict[str, Any]], n_configs: int, n_questions: int) -> dict[str, Any]:
    """The races against the grid's answer."""
    means, worse = answer["means"], set(answer["significantly_worse"])
    full = n_configs * n_questions
    rows = []
    for r in races:
        wrong = [n for n, d in r["dropped"].items() if means[n] >= means[d["by"]]]
        rows.append({**r, "share": r["evaluations"] / full, "kept_best": answer["best"] in r["kept"],
                     "kept_significantly_worse": sorted(worse & set(r["kept"])), "false_eliminations": wrong,
                     "dropped_not_significantly_worse": sorted(set(r["dropped"]) - worse)})
    shares = [r["share"] for r in rows]
    return {
        "orders": len(rows), "full_grid_evaluations": full,
        "kept_best_in_every_order": all(r["kept_best"] for r in rows),
        "orders_keeping_a_significantly_worse": sum(bool(r["kept_significantly_worse"]) for r in rows),
        "orders_dropping_one_not_significantly_worse": sum(bool(r["dropped_not_significantly_worse"]) for r in rows),
        "false_elimination_rate": sum(bool(r["false_eliminations"]) for r in rows) / len(rows),
        "best_dropped_rate": sum(not r["kept_best"] for r in rows) / len(rows),
        "evaluation_share": {"mean": float(np.mean(shares)), "max": float(np.max(shares)), "min": float(np.min(shares))},
        "races": rows,
    }


def grid_scores(sweep: str, metric: str | None) -> dict[str, tuple[np.ndarray, list[str], list[str], str]]:
    """Per suite of the sweep's latest full run: (scores configurations x questions, configuration names, question ids
    in the suite's order, metric), from each run's records."""
    runs, failed = latest_runs(results_root() / "runs", sweep)
    if not runs:
        raise ConfigError(f"no runs of sweep {sweep!r} under {results_root() / 'runs'}: run `ragsweep sweep {sweep}` first")
    if failed:
        raise ConfigError(f"the latest `ragsweep sweep {sweep}` has {failed} failed run(s): a full grid needs every configuration")
    suites: dict[str, list[Any]] = {}
    for run in runs.values():
        suites.setdefault(str(run.metrics.get("data_identity")), []).append(run)
    out = {}
    for members in suites.values():
        name = suite_of(members[0].configuration)
        column = metric or str(members[0].metrics.get("headline"))
        flip = column in members[0].metrics.get("lower_is_better", ())
        table, ids = [], None
        for run in members:
            records = run.records()
            if column not in records:
                raise DataError(run.path / "records.parquet", f"no column {column!r}", field=column)
            if ids is None:
                ids = list(records["query_id"])
            elif list(records["query_id"]) != ids:
                raise DataError(run.path / "records.parquet", "its questions differ from the other runs of the suite", field="query_id")
            values = records[column].to_numpy(dtype=float)
            table.append(1 - values if flip else values)
        scores = np.vstack(table)
        if found := partly_missing(scores):  # a question only some configurations could score
            raise DataError(members[found[0]].path / "records.parquet", f"question {ids[found[2]]!r} has no {column} here but has "
                            "one in other runs of the suite", field=column)
        out[name] = (scores, [r.configuration for r in members], list(ids or []), column)
    return out


def real_race_matches(path: Path, result: dict[str, Any], settings: RaceSettings, questions: int) -> bool | None:
    """Whether ``ragsweep sweep NAME --race`` decided as the replay did; None where no race with the same settings
    (seed, test, alpha, batch) was written."""
    try:
        real = json.loads(path.read_text("utf-8"))
        same = (real.get("seed"), real.get("test"), real.get("alpha"), real.get("batch"))
        if same != (settings.seed, settings.test, settings.alpha, settings.batch_for(questions)):
            return None
        dropped = {r["configuration"]: {"after": r["after"], "by": r["worse_than"]} for r in real["configurations"] if r["status"] == "dropped"}
        return sorted(real["kept"]) == sorted(result["kept"]) and dropped == result["dropped"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("%s: not a race as `ragsweep sweep --race` writes it (%s: %s): not compared", path, type(err).__name__, err)
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench race", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", required=True, help="the sweep whose latest full run is the grid")
    parser.add_argument("--orders", type=positive_int, default=20, help="random question orders (default 20)")
    parser.add_argument("--alpha", type=float, default=0.05, help="the race's family-wise error, and the grid's test level")
    parser.add_argument("--batch", type=positive_int, default=None, help="questions per look (default: as the race's)")
    parser.add_argument("--metric", default=None, help="the metric (default: each suite's headline)")
    parser.add_argument("--test", choices=TESTS, default="asymptotic", help="the race's confidence sequence (default asymptotic)")
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "race.json", help="where the result goes")
    args = parser.parse_args(argv)
    setup_logging()
    if not 0 < args.alpha < 1:
        raise ConfigError(f"--alpha must be in (0, 1), not {args.alpha}")
    result: dict[str, Any] = {"sweep": args.sweep, "alpha": args.alpha, "test": args.test, "suites": {}}
    for suite, (scores, names, ids, metric) in grid_scores(args.sweep, args.metric).items():
        log.info("%s: %d configurations x %d questions on %s; replaying %d orders", suite, len(names), len(ids), metric, args.orders)
        answer = grid_answer(scores, names, args.alpha)
        settings = [RaceSettings(args.alpha, args.batch, metric, seed, args.test) for seed in range(args.orders)]
        races = [replay(scores, names, ids, s) for s in settings]
        judged = judge_races(answer, races, len(names), len(ids))
        real = results_root() / "races" / args.sweep / f"{suite}.json"
        result["suites"][suite] = {"metric": metric, "configurations": len(names), "questions": len(ids),
                                   "questions_without_a_value": int(np.isnan(scores).all(axis=0).sum()),
                                   "batch": settings[0].batch_for(len(ids)), **answer, **judged,
                                   "real_race_seed_0_matches": real_race_matches(real, races[0], settings[0], len(ids))}
        s = judged["evaluation_share"]
        print(f"{suite} ({len(names)} configurations, {len(ids)} questions, {metric}): best {answer['best']}; "
              f"{len(answer['significantly_worse'])} significantly worse on the full grid; over {args.orders} orders the race kept the best "
              f"in {sum(r['kept_best'] for r in judged['races'])}, kept a significantly worse one in {judged['orders_keeping_a_significantly_worse']}, "
              f"false eliminations in {judged['false_elimination_rate']:.0%} of orders; evaluations {s['mean']:.1%} of the full grid "
              f"(at most {s['max']:.1%})", flush=True)
    write_result(args.out, result)
