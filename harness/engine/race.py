"""A racing sweep (``ragsweep sweep NAME --race``): the sweep's configurations on growing batches of questions,
each dropped as soon as it is shown worse than another (ragsweep.metrics.race says how and why that is valid).

The race draws its own order of the suite's questions (``seed``), runs every configuration still in the race on the
next batch through the cached pipeline (so a batch pays for its own questions only: chunking and the index are
built once, in the first batch), scores the batch with the run's own metric families, and looks. It ends when one
configuration is left or every question has been seen. Configurations of different suites race apart.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ragsweep import runtime
from ragsweep.engine.config_checks import validate_run_config
from ragsweep.engine.pipeline import Pipeline, plain_config
from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_json
from ragsweep.metrics.race import Race, looks, partly_missing
from ragsweep.scoring.records import build_metrics, build_records, lower_is_better
from ragsweep.store.cache import StageCache
from ragsweep.store.results import configuration

log = logging.getLogger("ragsweep.race")


@dataclass(frozen=True)
class RaceSettings:
    alpha: float = 0.05  # family-wise error over every pair of configurations and every look
    batch: int | None = None  # questions per look (default: a twentieth of the suite, at least 5)
    metric: str | None = None  # the metric raced on (default: the suite's headline)
    seed: int = 0  # the question order
    test: str = "asymptotic"  # the confidence sequence (ragsweep.metrics.race.TESTS)

    def batch_for(self, population: int) -> int:
        return self.batch or max(5, -(-population // 20))


@dataclass
class Entrant:
    """One configuration of the race: its resolved config, its label, and its metric families."""

    label: str
    config: dict[str, Any]
    families: list[Any] = field(default_factory=list)


@dataclass
class RaceResult:
    suite: str
    questions: int
    metric: str
    settings: RaceSettings
    race: Race
    lower_is_better: bool  # raced on 1 - value; shown as the metric's own values
    looks: list[dict[str, Any]]
    seconds: float
    llm_tokens: dict[str, int]  # per configuration, over the questions it was scored on

    def full_grid_tokens(self) -> int:
        """The LLM tokens the full grid would have used: each configuration's tokens a question so far, times the
        suite's questions (an extrapolation: questions differ in length)."""
        return round(sum(t / len(self.race.values[n]) * self.questions for n, t in self.llm_tokens.items() if self.race.values[n]))

    @property
    def full_grid_evaluations(self) -> int:
        return len(self.race.names) * self.questions

    def to_dict(self) -> dict[str, Any]:
        race, flip = self.race, self.lower_is_better

        def shown(diff: tuple[float, float | None, float | None]) -> list[float | None]:  # of the metric's own values
            def neg(v: float | None) -> float | None:
                return None if v is None else -v

            return [neg(diff[0]), neg(diff[2]), neg(diff[1])] if flip else list(diff)

        rows = []
        for name in race.names:
            seen = race.values[name]
            mean = sum(seen) / len(seen) if seen else None
            row: dict[str, Any] = {"configuration": name, "questions": len(seen), "mean": None if mean is None else (1 - mean if flip else mean)}
            if (e := race.eliminated.get(name)) is not None:
                row.update(status="dropped", after=e.after, worse_than=e.by, difference=shown(e.difference), final_test_p=e.p_value)
            else:
                row.update(status="kept", against_leader=shown(race.against_leader(name)))
            rows.append(row)
        return {
            "suite": self.suite, "questions": self.questions, "metric": self.metric, "lower_is_better": flip, "alpha": self.settings.alpha,
            "pair_alpha": race.pair_alpha, "batch": self.settings.batch_for(self.questions), "seed": self.settings.seed,
            "test": self.settings.test,
            "leader": race.leader(), "kept": race.survivors, "configurations": rows, "looks": self.looks,
            "evaluations": race.evaluations, "full_grid_evaluations": self.full_grid_evaluations,
            "set_aside": race.set_aside,  # questions no configuration has a value on: scored, not raced on
            "seconds": round(self.seconds, 3), "llm_tokens": sum(self.llm_tokens.values()), "full_grid_llm_tokens": self.full_grid_tokens(),
        }


def suite_of(configuration_label: str) -> str:
    """The suite a run's configuration label names first (store.results.configuration): what a race file is named by."""
    return configuration_label.split("__")[0]


def question_order(ids: Sequence[str], seed: int) -> list[str]:
    """The race's order of the suite's questions: a uniformly random permutation, the same for the same seed."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    return order


def race_metric_values(records: Sequence[dict[str, Any]], metric: str, flip: bool, label: str, allow_missing: bool = False) -> list[float]:
    """One value in [0, 1] per question (1 - value for a metric where lower is better); a question without one (NaN
    where ``allow_missing``: the race then sets it aside if no configuration has one), or a value outside [0, 1], stops
    the race (or search) with ``label`` (which one, and its configuration), the question and the metric named."""
    out = []
    for row in records:
        value = row.get(metric)
        if allow_missing and (value is None or (isinstance(value, float) and math.isnan(value))):
            out.append(math.nan)
            continue
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            why = "no value" if value is None else f"the value {value!r}"
            raise ConfigError(f"{label} has {why} for {metric} on question {row['query_id']!r}: a metric in [0, 1] on every question "
                              "is needed (choose one with --metric)")
        out.append(1.0 - float(value) if flip else float(value))
    return out


@dataclass(frozen=True)
class Scored:
    """One configuration scored on some questions: its values of ``metric`` in question order (each in [0, 1], the
    complement where lower is better and ``flip_lower`` was asked), whether lower is better, and its records."""

    values: list[float]
    metric: str
    lower_is_better: bool
    records: list[dict[str, Any]]


def score_questions(config: dict[str, Any], families: Sequence[Any], questions: Sequence[str], metric: str | None, cache: StageCache,
                    label: str, flip_lower: bool, allow_missing: bool = False) -> Scored:
    """One configuration on ``questions`` through the cached pipeline, scored by its metric families: what a race's
    batch and a search's proposal both are. ``metric`` None: the suite's headline. A question without a value stops it,
    naming ``label``, unless ``allow_missing`` (NaN; race_metric_values)."""
    with runtime.RunContext(Path(config["cache_dir"]), bars=False, label=label).active():
        result = Pipeline(config, cache, progress=False, questions=questions).run()
    records = build_records(result, families, config["judge"].get("invalid_policy", "exclude"))
    name = metric or str(result.headline_metric)
    lower = name in lower_is_better(families, result)
    return Scored(race_metric_values(records, name, lower and flip_lower, label, allow_missing), name, lower, records)


def check_missing_alike(values: dict[str, list[float]], questions: Sequence[str], metric: str) -> None:
    """A question may lack a value for every configuration (nothing to score it against, such as a question without
    gold evidence: the race sets it aside and counts it), never for some only: that stops the race, naming both."""
    if found := partly_missing(np.array(list(values.values()), dtype=float)):
        names = list(values)
        raise ConfigError(f"{names[found[0]]} has no value for {metric} on question {questions[found[2]]!r}, which {names[found[1]]} "
                          "has: the race compares configurations on the questions they are all scored on (choose another metric with --metric)")


def suites(runs: Sequence[Any]) -> dict[str, list[Entrant]]:
    """The sweep's runs as entrants, grouped by their suite (its task config): each group races on its own."""
    groups: dict[str, list[Entrant]] = {}
    for composed in runs:
        plain = plain_config(composed.config)
        validate_run_config(plain)
        if (plain.get("outputs") or {}).get("path"):
            raise ConfigError("race: a run from another system's outputs (outputs.path) has nothing to race")
        key = sha256_json(plain["task"])
        groups.setdefault(key, []).append(Entrant(configuration(composed.choices, plain, composed.overrides), plain, build_metrics(plain["scoring"])))
    for entrants in groups.values():
        labels = [e.label for e in entrants]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"race: two configurations share a label ({labels}); name the swept parameters on the command line")
    return groups


def run_race(entrants: list[Entrant], settings: RaceSettings) -> RaceResult:
    """Race one suite's configurations; every batch goes through the cached pipeline."""
    t0 = time.perf_counter()
    first = entrants[0].config
    cache = StageCache(first["cache_dir"])
    with runtime.RunContext(Path(first["cache_dir"]), bars=False, label="race").active():
        ids = [q.query_id for q in Pipeline(first, cache, progress=False).load_suite()[1]]
    order = question_order(ids, settings.seed)
    race = Race([e.label for e in entrants], len(order), settings.alpha, settings.test)
    by_label = {e.label: e for e in entrants}
    metric, flip = settings.metric, False
    history: list[dict[str, Any]] = []
    tokens = {e.label: 0 for e in entrants}
    start = 0
    suite = suite_of(entrants[0].label)
    log.info("race on %s: %d configurations, %d questions, %s test, alpha %.3g (%.2g a pair), looks after %s", suite, len(entrants),
             len(order), settings.test, settings.alpha, race.pair_alpha, ", ".join(map(str, looks(len(order), settings.batch_for(len(order))))))
    for end in looks(len(order), settings.batch_for(len(order))):
        if len(race.survivors) <= 1:
            break
        batch = order[start:end]
        new: dict[str, list[float]] = {}
        for name in race.survivors:
            entrant = by_label[name]
            scored = score_questions(entrant.config, entrant.families, batch, metric, cache, name, flip_lower=True, allow_missing=True)
            metric, flip = scored.metric, scored.lower_is_better
            new[name] = scored.values
            tokens[name] += sum(int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0) for r in scored.records)
        check_missing_alike(new, batch, str(metric))
        dropped = race.observe(new)
        history.append({"after": end, "survivors": len(race.survivors), "dropped": [e.name for e in dropped]})
        log.info("race on %s: %d of %d questions seen, %d of %d configurations left%s", suite, end, len(order), len(race.survivors), len(entrants),
                 f"; dropped {len(dropped)}: {', '.join(e.name for e in dropped)}" if dropped else "")
        start = end
    return RaceResult(suite, len(order), str(metric), settings, race, flip, history, time.perf_counter() - t0, tokens)


def race_table(result: RaceResult) -> str:
    """The race's answer: the configurations kept (each against the leader, with the race's simultaneous bounds),
    then those dropped and when, then what the race saved against the full grid."""
    d = result.to_dict()
    head = (f"race on {d['suite']} ({d['questions']} questions, {d['metric']}, {'lower' if d['lower_is_better'] else 'higher'} is better; "
            f"{d['test']} test, family-wise alpha {d['alpha']}, batches of {d['batch']}, order seed {d['seed']})")
    def short(label: str) -> str:  # the suite is in the heading; a component left at none says nothing
        return "__".join(part for part in label.split("__")[1:] if part != "none") or label

    width = max(len(short(r["configuration"])) for r in d["configurations"])
    lines = [head, f"{'configuration':<{width}}  {'questions':>9}  {'mean':>7}  against the leader [bounds] / dropped"]
    sign = -1 if d["lower_is_better"] else 1
    rows = sorted(d["configurations"], key=lambda r: (r["status"] != "kept", -sign * (r["mean"] or 0.0)))
    for r in rows:
        mean = "" if r["mean"] is None else f"{r['mean']:.4f}"
        if r["status"] == "kept":
            diff, low, high = r["against_leader"]
            what = "leader" if r["configuration"] == d["leader"] else f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]"
        else:
            diff, low, high = r["difference"]
            shown = f"p = {r['final_test_p']:.4f} in the final test" if r.get("final_test_p") is not None else f"[{low:+.4f}, {high:+.4f}]"
            what = f"dropped after {r['after']}: {diff:+.4f} {shown} against {short(r['worse_than'])}"
        lines.append(f"{short(r['configuration']):<{width}}  {r['questions']:>9}  {mean:>7}  {what}")
    share = d["evaluations"] / d["full_grid_evaluations"]
    lines.append(f"kept {len(d['kept'])} of {len(d['configurations'])}; {d['evaluations']:,} of {d['full_grid_evaluations']:,} question "
                 f"evaluations ({share:.1%} of the full grid); {d['llm_tokens']:,} LLM tokens (the full grid: about "
                 f"{d['full_grid_llm_tokens']:,}); {d['seconds']:.0f} s")
    if d.get("set_aside"):
        lines.append(f"{d['set_aside']} of the questions seen have no value of {d['metric']} for any configuration (nothing to score "
                     "them against): evaluated and counted above, not raced on")
    return "\n".join(lines)


def write_race(result: RaceResult, folder: Path) -> Path:
    """The race's outcome as JSON (``<results>/races/<sweep>/<suite>.json``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.suite}.json"
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
    return path
