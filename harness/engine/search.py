"""A search over numeric settings (``ragsweep search NAME``): Optuna's TPE sampler proposes values for the keys a
preset's ``search.space`` names (chunk size, overlap, top k, context k, hybrid weights...), each proposal is one run
of the cached pipeline on the search questions, and the best proposal is then scored once on held-out questions the
search never saw, so the score reported is not the search's own optimistic one (the best of many noisy scores is
biased upwards).

The questions are split once, by a seeded permutation: ``holdout`` of them are held out. A proposal that repeats an
earlier one (TPE does, on a grid of steps) costs nothing: its chunks, index and rankings are in the stage cache.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ragsweep import runtime
from ragsweep.engine.config_checks import validate_run_config
from ragsweep.engine.pipeline import Pipeline, plain_config
from ragsweep.engine.race import question_order, score_questions, suite_of
from ragsweep.engine.runner import suite_identity
from ragsweep.errors import ConfigError
from ragsweep.metrics.aggregate import summarize
from ragsweep.scoring.records import build_metrics
from ragsweep.store.cache import StageCache
from ragsweep.store.results import configuration

log = logging.getLogger("ragsweep.search")

KINDS = ("int", "float", "categorical")


@dataclass(frozen=True)
class Dimension:
    """One searched key: ``int`` or ``float`` between ``low`` and ``high`` (``step``, ``log``), or ``categorical``."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)  # type: ignore[arg-type]


def parse_space(space: Any) -> list[Dimension]:
    """``search.space`` of a preset, checked before any work: one line naming the key and what is wrong."""
    if not isinstance(space, dict) or not space:
        raise ConfigError("search.space must map each searched key to its range, e.g. {chunker.size: {type: int, low: 64, high: 1024}}")
    dims = []
    for key, spec in space.items():
        where = f"search.space.{key}"
        if not isinstance(spec, dict) or spec.get("type") not in KINDS:
            raise ConfigError(f"{where}: needs type: one of {', '.join(KINDS)}")
        unknown = set(spec) - {"type", "low", "high", "step", "log", "choices"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} (type, low, high, step, log, choices)")
        if spec["type"] == "categorical":
            if not isinstance(spec.get("choices"), list) or not spec["choices"]:
                raise ConfigError(f"{where}: a categorical key needs a non-empty list of choices")
            dims.append(Dimension(str(key), "categorical", choices=tuple(spec["choices"])))
            continue
        low, high = spec.get("low"), spec.get("high")
        numbers = [v for v in (low, high, spec.get("step")) if v is not None]
        if low is None or high is None or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers) or not low < high:
            raise ConfigError(f"{where}: needs numbers low < high, got low={low!r}, high={high!r}")
        if spec["type"] == "int" and any(float(v) != int(v) for v in numbers):
            raise ConfigError(f"{where}: an int key needs whole low, high and step")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0")
        dims.append(Dimension(str(key), spec["type"], low, high, spec.get("step"), bool(spec.get("log", False))))
    return dims


def split_questions(ids: Sequence[str], holdout: float, seed: int) -> tuple[list[str], list[str]]:
    """(search questions, held-out questions): a seeded permutation, the last ``holdout`` share held out (at least one
    question on each side)."""
    if not 0 < holdout < 1:
        raise ConfigError(f"search.holdout must be in (0, 1), not {holdout}")
    if len(ids) < 2:
        raise ConfigError(f"a search needs at least 2 questions to hold some out; the suite has {len(ids)}")
    order = question_order(ids, seed)
    held = min(len(order) - 1, max(1, round(len(order) * holdout)))
    return order[: len(order) - held], order[len(order) - held:]


@dataclass
class Evaluation:
    mean: float
    values: list[float]
    seconds: float


def evaluate(config: dict[str, Any], questions: Sequence[str], metric: str | None, cache: StageCache,
             configuration_label: str) -> tuple[Evaluation, str, bool]:
    """One configuration on ``questions`` (race.score_questions, the metric's own values): (the evaluation, the metric,
    whether lower is better)."""
    t0 = time.perf_counter()
    scored = score_questions(config, build_metrics(config["scoring"]), questions, metric, cache, configuration_label, flip_lower=False)
    return Evaluation(float(np.mean(scored.values)), scored.values, time.perf_counter() - t0), scored.metric, scored.lower_is_better


@dataclass
class SearchResult:
    suite: str
    data_identity: str
    metric: str
    lower_is_better: bool
    space: list[Dimension]
    trials: list[dict[str, Any]]
    best: dict[str, Any]
    held_out: dict[str, Any]
    search_questions: int
    held_out_questions: int
    seed: int
    seconds: float
    grid_points: int | None = field(default=None)  # the preset's own grid of the searched keys, where it sweeps them

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "data_identity": self.data_identity, "metric": self.metric, "lower_is_better": self.lower_is_better,
            "space": [d.__dict__ | {"choices": list(d.choices)} for d in self.space], "trials": self.trials, "best": self.best,
            "held_out": self.held_out, "search_questions": self.search_questions, "held_out_questions": self.held_out_questions,
            "seed": self.seed, "seconds": round(self.seconds, 3), "grid_points": self.grid_points,
            # A repeated proposal is read from the stage cache: only distinct points cost question evaluations.
            "evaluations": len({json.dumps(t["params"], sort_keys=True) for t in self.trials}) * self.search_questions + self.held_out_questions,
        }


def run_search(compose: Any, space: list[Dimension], trials: int, holdout: float, seed: int, metric: str | None,
               grid_points: int | None = None) -> SearchResult:
    """``compose(overrides)`` gives the one resolved run config for a proposal's values (the preset, the command line
    and the searched keys); TPE (seeded) proposes ``trials`` of them on the search questions, then the best is scored
    on the held-out questions."""
    import optuna

    t0 = time.perf_counter()
    # One run a proposal, checked before the study (its lowest point); its suite and cache serve every proposal.
    first = compose({d.key: d.choices[0] if d.kind == "categorical" else (int(d.low) if d.kind == "int" else d.low) for d in space})  # type: ignore[arg-type]
    cache = StageCache(first.config["cache_dir"])
    with runtime.RunContext(Path(first.config["cache_dir"]), bars=False, label="search").active():
        documents, queries = Pipeline(plain_config(first.config), cache, progress=False).load_suite()
    search_ids, held_ids = split_questions([q.query_id for q in queries], holdout, seed)
    state: dict[str, Any] = {"metric": metric, "lower": False}
    history: list[dict[str, Any]] = []

    def objective(trial: Any) -> float:
        params = {d.key: d.suggest(trial) for d in space}
        composed = compose(params)
        plain = plain_config(composed.config)
        validate_run_config(plain)
        label = configuration(composed.choices, plain, composed.overrides)
        found, state["metric"], state["lower"] = evaluate(plain, search_ids, state["metric"], cache, label)
        history.append({"trial": trial.number, "params": params, "configuration": label,
                        "mean": found.mean, "seconds": round(found.seconds, 3)})
        log.info("search trial %d of %d: %s -> %s %.4f (%.1f s)", trial.number + 1, trials, params, state["metric"], found.mean, found.seconds)
        # Which way is better is the metric's, known once a run has scored it: a lower-is-better metric is searched
        # on its negation, so one study direction serves both.
        return -found.mean if state["lower"] else found.mean

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial that fails is our one line, not also its warning
    # TPE's own default explores at random for 10 trials; a search of a few dozen starts modelling after a third.
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, trials // 3))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=trials)
    sign = -1.0 if state["lower"] else 1.0
    best = max(history, key=lambda h: (sign * h["mean"], -h["trial"]))
    composed = compose(best["params"])
    held, _, _ = evaluate(plain_config(composed.config), held_ids, state["metric"], cache, best["configuration"])
    interval = summarize(held.values, n_boot=2000, seed=seed)  # the percentile bootstrap every run's metrics.json carries
    low, high = interval["ci_low"], interval["ci_high"]
    return SearchResult(
        suite_of(best["configuration"]), suite_identity(documents, queries), str(state["metric"]), bool(state["lower"]), space, history,
        best, {"mean": held.mean, "ci_low": low, "ci_high": high, "questions": len(held_ids)}, len(search_ids), len(held_ids), seed,
        time.perf_counter() - t0, grid_points,
    )


def search_table(result: SearchResult) -> str:
    """The search's history, its best point, and that point's score on the held-out questions."""
    d = result.to_dict()
    keys = [dim.key for dim in result.space]
    lines = [f"search on {d['suite']} ({d['metric']}, {'lower' if d['lower_is_better'] else 'higher'} is better; {len(d['trials'])} trials on "
             f"{d['search_questions']} questions, {d['held_out_questions']} held out; TPE seed {d['seed']})"]
    width = max(len(k) for k in keys)
    for t in d["trials"]:
        mark = "  <- best" if t["trial"] == d["best"]["trial"] else ""
        lines.append(f"  trial {t['trial']:>3}  " + "  ".join(f"{k}={t['params'][k]!s:<{max(4, width - len(k))}}" for k in keys) + f"  {t['mean']:.4f}{mark}")
    h, best = d["held_out"], d["best"]
    point = ", ".join(f"{k}={best['params'][k]}" for k in keys)
    lines.append(f"best: {point}: {best['mean']:.4f} on the search questions (the best of "
                 f"{len(d['trials'])}, optimistic); {h['mean']:.4f} [{h['ci_low']:.4f}, {h['ci_high']:.4f}] on the {h['questions']} held-out questions")
    lines.append(f"{d['evaluations']:,} question evaluations" + (f" (the preset's grid of {d['grid_points']} points: {d['grid_points'] * (d['search_questions'] + d['held_out_questions']):,})"
                                                                  if d["grid_points"] else "") + f"; {d['seconds']:.0f} s")
    return "\n".join(lines)


def write_search(result: SearchResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.suite}.json"
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    return path


SEARCH_FIELDS = {"data_identity": str, "metric": str, "space": list, "trials": list, "best": dict, "held_out": dict,
                 "search_questions": int, "held_out_questions": int}


def read_searches(results: Path) -> list[dict[str, Any]]:
    """Every search written under ``<results>/searches`` (the leaderboard shows each with its suite); a file that does
    not read, or lacks a field the leaderboard shows (or has it of another type), is left out with a warning naming
    the file and the field."""
    out = []
    for path in sorted((results / "searches").glob("*/*.json")):
        try:
            found = json.loads(path.read_text("utf-8"))
            if not isinstance(found, dict):
                raise ValueError("not a JSON object")
            for name, kind in SEARCH_FIELDS.items():
                if not isinstance(found.get(name), kind):
                    raise ValueError(f"field {name!r} is missing or not a {kind.__name__}")
            trial_ok = all(isinstance(t, dict) and isinstance(t.get("params"), dict) and isinstance(t.get("mean"), (int, float)) for t in found["trials"])
            if not trial_ok or not all(isinstance(found["held_out"].get(k), (int, float)) for k in ("mean", "ci_low", "ci_high", "questions")):
                raise ValueError("field 'trials' or 'held_out' is not as a search writes it")
            out.append({**found, "file": str(path)})
        except (OSError, ValueError) as err:
            log.warning("%s: not a search result (%s): left out", path, err)
    return out

