"""``ragsweep judge-eval --set FILE [--judge llm] [--limit N]``: how well a judge agrees with human labels.

Runs a judge configuration (any rubric judge config: its models, one rubric) over a human-labelled calibration
set (ragsweep.judges.calibration_sets: ExpertQA claims, or a generic labelled JSONL). Each item's claim is judged
against its context passages as the rubric judges an answer against retrieved chunks. The report, JSON under
results/judge_eval/ with a confusion-matrix SVG beside it:

- n, validity (readable verdicts / attempted: an unreadable verdict is counted, never scored), stalled replies
  (all max_tokens used inside the JSON) and failed calls;
- binary agreement: accuracy, balanced accuracy, Cohen's kappa, the confusion matrix. A human label is positive
  when it is one of ``--positive``; a judge score is positive above the middle of its range;
- graded agreement, where the labels are on an ordered scale (ExpertQA support: Complete / Partial / Incomplete;
  a generic set with ``--scale``): quadratic-weighted kappa and Krippendorff's ordinal alpha of the judge's score
  placed on the scale, Spearman's rho of the raw score, the graded confusion matrix;
- self-consistency with ``judge.samples`` k > 1: the mean share of samples on the voted verdict, the share of
  unanimous items, and the first sample's kappa beside the vote's;
- what the judge saw (passages shown of those given, prompt tokens) and what it cost (tokens, time, money at
  ``--usd-per-mtok-in/out``).

Every interval is a 95% bootstrap that resamples whole groups (a question's claims share their evidence). With
several annotators the human label is their most frequent one (a tie: the first annotator's). ``--limit`` draws a
seeded subset of whole groups, the same for every judge given the same seed. The report carries the judge's
identity (ragsweep.judges.llm.LLMJudge.identity), by which the leaderboard finds it beside that judge's columns.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from ragsweep.analysis.confusion_figure import confusion_svg
from ragsweep.analysis.ppi_simulation import FLIP_RATES, flipped, simulate, table as simulation_table
from ragsweep.metrics.answers import token_recall
from ragsweep.analysis.pairwise import judge_config
from ragsweep.errors import ConfigError, DataError
from ragsweep.judges.calibration_sets import EXPERTQA_CORRECTNESS, EXPERTQA_SUPPORT, CalibrationItem, read_expertqa_claims, read_labelled_jsonl
from ragsweep.judges.readers import score_range
from ragsweep.metrics.agreement import accuracy, balanced_accuracy, bootstrap_interval, cohen_kappa, krippendorff_alpha, spearman, weighted_kappa
from ragsweep.paths import results_root
from ragsweep.registry import JUDGES
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.store.results import RESULTS_ADVICE, write_json
from ragsweep.types import Chunk, Generation, Query
from ragsweep.logs import setup_logging
from ragsweep.help_text import aligned, plain_doc
from ragsweep.engine.config_names import unknown_choice

log = logging.getLogger("ragsweep.judge_eval")
EXPERTQA_SCALES = {"support": EXPERTQA_SUPPORT, "correctness": EXPERTQA_CORRECTNESS}  # best first
EXPERTQA_POSITIVE = {"support": ("Complete",), "correctness": ("Definitely correct", "Probably correct")}


def subset(items: Sequence[CalibrationItem], limit: int | None, seed: int) -> list[CalibrationItem]:
    """At most about ``limit`` items: whole groups drawn with ``seed`` until the limit is reached, file order kept."""
    if not limit or limit >= len(items):
        return list(items)
    groups = sorted({i.group for i in items})
    random.Random(seed).shuffle(groups)
    sizes = Counter(i.group for i in items)
    chosen, total = set(), 0
    for g in groups:
        if total >= limit:
            break
        chosen.add(g)
        total += sizes[g]
    return [i for i in items if i.group in chosen]


def judge_items(judge: Any, items: Sequence[CalibrationItem]) -> list[dict[str, Any]]:
    """The judge's verdict on each item's claim against its passages (ragsweep.judges.llm.LLMJudge.judge)."""
    queries, generations, chunks = [], [], {}
    for item in items:
        ids = []
        for j, passage in enumerate(item.context):
            chunk_id = f"{item.item_id}#ctx{j}"
            chunks[chunk_id] = Chunk(chunk_id, item.item_id, 0, len(passage), passage)
            ids.append(chunk_id)
        queries.append(Query(query_id=item.item_id, question=item.question or "(no question)", answers=item.reference))
        generations.append(Generation(query_id=item.item_id, answer=item.claim, context_chunk_ids=tuple(ids)))
    return judge.judge(queries, generations, chunks)


def human_label(item: CalibrationItem) -> Hashable:
    """The annotators' most frequent label; a tie goes to the first annotator's."""
    return Counter(item.labels).most_common(1)[0][0]


def _with_interval(stat: Callable, truth: Sequence, judged: Sequence, groups: Sequence, seed: int) -> dict[str, Any]:
    if not truth:
        return {"value": None, "ci_low": None, "ci_high": None}
    value = stat(truth, judged)
    low, high = bootstrap_interval(stat, truth, judged, groups=groups, seed=seed)
    clean = lambda x: None if x != x else x  # noqa: E731  NaN (undefined, e.g. one class only) -> null in JSON
    return {"value": clean(value), "ci_low": clean(low), "ci_high": clean(high)}


def binary_report(truth: Sequence[int], judged: Sequence[int], groups: Sequence[Hashable], seed: int) -> dict[str, Any]:
    """Accuracy, balanced accuracy and Cohen's kappa of the readable verdicts, and the 2x2 confusion counts."""
    return {
        "confusion": {f"human_{h}_judge_{j}": sum(1 for t, p in zip(truth, judged) if (t, p) == (h, j)) for h in (1, 0) for j in (1, 0)},
        **{name: _with_interval(stat, truth, judged, groups, seed) for name, stat in
           (("accuracy", accuracy), ("balanced_accuracy", balanced_accuracy), ("cohen_kappa", cohen_kappa))},
    }


def ordinal_alpha(a: Sequence[int], b: Sequence[int]) -> float:
    return krippendorff_alpha(list(zip(a, b)), "ordinal")


def graded_report(human: Sequence[int], judged: Sequence[int], scores: Sequence[float], groups: Sequence[Hashable], scale: Sequence[str], seed: int) -> dict[str, Any]:
    """Grades run 0 (worst) .. len(scale)-1 (best); ``scores`` are the judge's raw scores for Spearman."""
    levels = list(range(len(scale)))
    return {
        "levels": list(reversed(scale)),  # worst first, as the grades count
        "confusion": [[sum(1 for h, j in zip(human, judged) if (h, j) == (hl, jl)) for jl in levels] for hl in levels],
        "quadratic_kappa": _with_interval(lambda a, b: weighted_kappa(a, b, levels), human, judged, groups, seed),
        "krippendorff_alpha": _with_interval(ordinal_alpha, human, judged, groups, seed),
        "spearman": _with_interval(spearman, human, scores, groups, seed),
    }


def consistency_report(column_scores: Sequence[dict[str, Any]], truth_of: dict[int, int], positive: Callable[[float], int],
                       groups: Sequence[Hashable], seed: int) -> dict[str, Any] | None:
    """Self-consistency of a judge that sampled k > 1 times: mean agreement with the vote, the share of unanimous
    items, and the kappa of the first sample alone (compare with the vote's)."""
    sampled = [(i, s) for i, s in enumerate(column_scores) if s and len(s["samples"][0]) > 1]
    if not sampled:
        return None
    agreements = [s["agreement"][0] for _, s in sampled if s["agreement"][0] is not None]
    first = [(truth_of[i], positive(s["samples"][0][0]), groups[i]) for i, s in sampled if s["samples"][0][0] is not None and i in truth_of]
    return {
        "samples": len(sampled[0][1]["samples"][0]),
        "mean_agreement": sum(agreements) / len(agreements) if agreements else None,
        "unanimous_share": sum(1 for a in agreements if a == 1.0) / len(agreements) if agreements else None,
        "first_sample_cohen_kappa": _with_interval(cohen_kappa, [f[0] for f in first], [f[1] for f in first], [f[2] for f in first], seed),
    }


def evaluate(items: Sequence[CalibrationItem], verdicts: Sequence[dict[str, Any]], column: str, score_bounds: tuple[float, float],
             positive: Sequence[str], scale: Sequence[str] | None, seed: int) -> dict[str, Any]:
    """Every agreement figure of the report from the items, the judge's verdicts and the scored column."""
    low, high = score_bounds
    norm = lambda s: (s - low) / (high - low)  # noqa: E731
    is_positive = lambda s: 1 if norm(s) > 0.5 else 0  # noqa: E731
    column_scores = [v["scores"].get(column) for v in verdicts]
    scores = [s["score"] if s else None for s in column_scores]
    humans = [human_label(i) for i in items]
    groups = [i.group for i in items]
    readable = [n for n, s in enumerate(scores) if s is not None]
    truth = {n: 1 if str(humans[n]) in positive else 0 for n in range(len(items))}
    errors = sum(1 for v in verdicts for e in v["errors"].values() for x in e if x)
    out: dict[str, Any] = {
        "n": len(items), "readable": len(readable), "validity": len(readable) / len(items) if items else None,
        "stalled": sum(sum(v.get("stalled", {}).values()) for v in verdicts), "failed_calls": errors,
        "human_positive_rate": sum(truth.values()) / len(items) if items else None,
        **binary_report([truth[n] for n in readable], [is_positive(scores[n]) for n in readable], [groups[n] for n in readable], seed),
        "graded": None,
    }
    if scale:
        grade = {label: len(scale) - 1 - k for k, label in enumerate(scale)}
        graded = [n for n in readable if str(humans[n]) in grade]
        out["graded"] = graded_report(
            [grade[str(humans[n])] for n in graded], [round(norm(scores[n]) * (len(scale) - 1)) for n in graded],
            [scores[n] for n in graded], [groups[n] for n in graded], scale, seed,
        )
    out["self_consistency"] = consistency_report(column_scores, truth, is_positive, groups, seed)
    return out


def context_report(items: Sequence[CalibrationItem], verdicts: Sequence[dict[str, Any]], context_k: int) -> dict[str, Any]:
    """What the judge saw: at most ``context_k`` passages of each item's, and how many prompt tokens that made."""
    prompt_tokens = [u["prompt_tokens"] for v in verdicts for u in v.get("usage", {}).values()]
    replies = sum(len(r) for v in verdicts for r in v["raw"].values())
    return {
        "passages_shown": context_k,
        "items_with_passages_left_out": sum(1 for i in items if len(i.context) > context_k),
        "passages_given_mean": sum(len(i.context) for i in items) / len(items) if items else None,
        "prompt_tokens_per_reply": sum(prompt_tokens) / replies if replies else None,
    }


def usage_report(verdicts: Sequence[dict[str, Any]], wall_s: float, usd_in: float, usd_out: float) -> dict[str, Any]:
    prompt = sum(u["prompt_tokens"] for v in verdicts for u in v.get("usage", {}).values())
    completion = sum(u["completion_tokens"] for v in verdicts for u in v.get("usage", {}).values())
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "wall_s": round(wall_s, 2),
        "items_per_s": round(len(verdicts) / wall_s, 4) if wall_s > 0 else None,
        "cost_usd": round((prompt * usd_in + completion * usd_out) / 1e6, 6),
    }


def figure(report: dict[str, Any]) -> str:
    title = f"{report['judge']['rubric']} by {', '.join(str(m.get('model')) for m in report['judge']['models'])}"
    if report["graded"]:
        levels = report["graded"]["levels"]
        return confusion_svg(report["graded"]["confusion"], levels, levels, title)
    c = report["confusion"]
    counts = [[c["human_1_judge_1"], c["human_1_judge_0"]], [c["human_0_judge_1"], c["human_0_judge_0"]]]
    return confusion_svg(counts, ["positive", "negative"], ["positive", "negative"], title)


def load_items(args: argparse.Namespace) -> tuple[list[CalibrationItem], tuple[str, ...], tuple[str, ...] | None]:
    """(items, positive labels, ordered scale best first or None) for the chosen format."""
    if args.format == "expertqa":
        items = read_expertqa_claims(args.set, label=args.label, binary=False)
        positive = tuple(args.positive.split(",")) if args.positive else EXPERTQA_POSITIVE[args.label]
        return items, positive, EXPERTQA_SCALES[args.label]
    if not args.positive:
        raise ConfigError("judge-eval --format generic needs --positive: the label(s) that count as a positive verdict, comma-separated")
    items, scale = read_labelled_jsonl(args.set), tuple(args.scale.split(",")) if args.scale else None
    if scale and len(set(scale)) != len(scale):
        raise ConfigError(f"--scale names a level twice: {args.scale!r} (each level once, best first)")
    for item in items if scale else ():  # a label off the scale would leave the graded figures unseen, not count
        if off := [label for label in item.labels if str(label) not in scale]:
            raise DataError(args.set, f"label {off[0]!r} is not on --scale ({', '.join(scale)})", record=f"id {item.item_id!r}", field="labels")
    return items, tuple(args.positive.split(",")), scale


def check_set(items: Sequence[CalibrationItem], positive: Sequence[str], spec: dict[str, Any], rubric: str) -> None:
    """What would make every figure meaningless, refused before any verdict: a --positive that no item's label is,
    and a rubric that needs a reference answer on a set that gives none (it would judge nothing)."""
    labels = sorted({str(label) for item in items for label in item.labels})
    if not set(positive) & set(labels):
        raise ConfigError(f"--positive {','.join(positive)!r} matches no label of the set (its labels: {', '.join(labels[:20])}): "
                          "every item would count as negative")
    if spec.get("needs_reference") and not any(item.reference for item in items):
        raise ConfigError(f"rubric {rubric!r} compares answers with a reference answer, and no item of the set has one: give each item "
                          "a reference (generic format: \"reference\": text or a list of aliases)")


def ppi_validity(items: Sequence[CalibrationItem], verdicts: Sequence[dict[str, Any]], column: str, score_bounds: tuple[float, float],
                 positive: Sequence[str], draws: int, seed: int) -> tuple[list[dict[str, Any]], float, int]:
    """(rows, human mean, items) of the PPI validity simulation (analysis/ppi_simulation.py) on the items the judge
    read: the judge's scores (scaled to [0, 1]), the weight-free scorer (the share of the claim's tokens its passages
    hold) and synthetic judges flipping the human label at known rates."""
    low, high = score_bounds
    readable = [(i, v["scores"][column]["score"]) for i, v in zip(items, verdicts) if (v["scores"].get(column) or {}).get("score") is not None]
    if len(readable) < 30:
        raise ConfigError(f"--ppi-simulation needs at least 30 items the judge could read, got {len(readable)}")
    y = np.array([1.0 if str(human_label(i)) in positive else 0.0 for i, _ in readable])
    scorers = {
        f"judge ({column})": np.array([(s - low) / (high - low) for _, s in readable]),
        "weight-free: claim tokens in its passages": np.array([token_recall(" ".join(i.context), [i.claim]) for i, _ in readable]),
        **{f"synthetic: label flipped at {rate:.1f}": flipped(y, rate, seed) for rate in FLIP_RATES},
    }
    return simulate(y, scorers, draws=draws, seed=seed), float(y.mean()), len(y)


def reused_verdicts(path: Path, judge_id: str, items: Sequence[CalibrationItem]) -> list[dict[str, Any]]:
    """The verdicts an earlier report holds, when it is the same judge (identity) on exactly these items."""
    from ragsweep.data_files import parse_json, read_text

    report = parse_json(path, read_text(path))
    if not isinstance(report, dict) or not isinstance(report.get("verdicts"), list):
        raise DataError(path, "holds no verdicts (a judge-eval report written before they were kept?)", field="verdicts")
    if (report.get("judge") or {}).get("judge_id") != judge_id:
        raise DataError(path, f"is a report of judge {(report.get('judge') or {}).get('judge_id')!r}, not {judge_id!r}", field="judge.judge_id")
    by_id = {v.get("query_id"): v for v in report["verdicts"] if isinstance(v, dict)}
    missing = [i.item_id for i in items if i.item_id not in by_id]
    if missing:
        raise DataError(path, f"has no verdict on {len(missing)} of the {len(items)} items (first: {missing[0]!r}): same --set, --limit and --seed?",
                        field="verdicts")
    return [by_id[i.item_id] for i in items]


def rank_sweep_scorers(args: argparse.Namespace) -> int:
    """``--sweep``: every per-query column of the sweep's runs against the consensus human labels of ``--rubric``."""
    from ragsweep.analysis.scorer_ranking import labelled_pairs, rank_scorers, table
    from ragsweep.labelling.server import sweep_runs
    from ragsweep.store.labels import LabelStore, consensus

    human, counts = consensus(LabelStore(results_root() / "labels").labels(args.rubric))
    if not human:
        raise ConfigError(f"no human labels of rubric {args.rubric!r} under {results_root() / 'labels'}: label answers with ragsweep label first")
    rows = rank_scorers(labelled_pairs(sweep_runs(results_root() / "runs", args.sweep), human), args.seed)
    out = args.out or results_root() / "judge_eval" / "scorers" / f"{args.sweep}__{args.rubric}.json"
    write_json(out, {"sweep": args.sweep, "rubric": args.rubric, "labels": counts, "rows": rows},
               "point --out at a writable folder" if args.out else None)
    print(table(rows, args.rubric), flush=True)
    log.info("wrote %s", out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep judge-eval", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=None, help="the calibration set file")
    parser.add_argument("--sweep", default=None,
                        help="instead of --set: rank every per-query column of this sweep's runs by its agreement with the human labels "
                             "of --rubric (ragsweep label)")
    parser.add_argument("--format", choices=("expertqa", "generic"), default="expertqa", help="expertqa (claims.jsonl) or generic (labelled JSONL)")
    parser.add_argument("--label", choices=sorted(EXPERTQA_SCALES), default="support", help="expertqa: which expert label to measure against")
    parser.add_argument("--positive", default=None, help="human label(s) counted positive, comma-separated (expertqa default: Complete)")
    parser.add_argument("--scale", default=None, help="generic: the ordered labels, best first, comma-separated, for graded agreement")
    parser.add_argument("--judge", default="llm", help="a judge config (configs/judge/NAME.yaml); its models judge")
    parser.add_argument("--override", action="append", default=[], help="Hydra override of the judge, e.g. judge.samples=3")
    parser.add_argument("--rubric", default="faithfulness", help="the rubric to judge with (its first column is scored)")
    parser.add_argument("--language", default="en", help="the language of the set: picks the rubric's prompt in that language")
    parser.add_argument("--limit", type=int, default=None, help="judge a seeded subset of about this many items (whole groups)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals and of any sampling")
    parser.add_argument("--usd-per-mtok-in", type=float, default=0.0, help="price of a million prompt tokens (0: a local model)")
    parser.add_argument("--usd-per-mtok-out", type=float, default=0.0, help="price of a million completion tokens")
    parser.add_argument("--out", type=Path, default=None, help="default results/judge_eval/<set>__<judge>__<rubric>__<judge id>.json")
    parser.add_argument("--ppi-simulation", action="store_true",
                        help="also measure PPI++ interval coverage and width on the set (n = 25, 50, 100, 200 labelled) for this judge, "
                             "a weight-free scorer and synthetic judges")
    parser.add_argument("--reuse-verdicts", type=Path, default=None,
                        help="take the verdicts from an earlier report of the same judge on the same items instead of judging again")
    parser.add_argument("--draws", type=int, default=1000, help="--ppi-simulation: random draws per row (default 1000)")
    args = parser.parse_args(argv)
    setup_logging()
    if (args.set is None) == (args.sweep is None):
        raise ConfigError("give --set FILE (a judge against a labelled set) or --sweep NAME (every scorer against your labels), one of them")
    if args.sweep is not None:
        return rank_sweep_scorers(args)
    if problem := unknown_choice([f"judge={args.judge}", *args.override], []):
        raise ConfigError(f"--judge / --override: {problem}")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be a whole number >= 1, not {args.limit}")
    if args.usd_per_mtok_in < 0 or args.usd_per_mtok_out < 0:
        raise ConfigError("--usd-per-mtok-in and --usd-per-mtok-out are prices: 0 or more")
    config = {k: v for k, v in judge_config(args.judge, [*args.override, f"judge.rubrics=[{args.rubric}]", f"judge.language={args.language}"]).items() if k != "prompts"}
    items, positive, scale = load_items(args)  # after the judge's config: a config error is found before the set is read
    check_set(items, positive, (config.get("rubric_defs") or {}).get(args.rubric) or {}, args.rubric)
    items = subset(items, args.limit, args.seed)
    if config.get("name") != "llm":
        raise ConfigError(f"judge-eval needs a rubric judge (judge=llm, openai or vllm), not {config.get('name')!r}")
    judge = JUDGES.build(config)
    column = next(iter(judge.rubric_defs[args.rubric].columns))
    t0 = time.perf_counter()
    verdicts = reused_verdicts(args.reuse_verdicts, judge.judge_id(args.rubric), items) if args.reuse_verdicts else judge_items(judge, items)
    wall_s = time.perf_counter() - t0
    report = {
        "set": str(args.set), "format": args.format, "label": args.label if args.format == "expertqa" else None,
        "items": len(items), "limit": args.limit, "seed": args.seed,
        "judge": {"config": args.judge, "overrides": args.override, "rubric": args.rubric, "column": column, "models": config["models"],
                  "samples": judge.samples, "language": args.language, "judge_id": judge.judge_id(args.rubric), "identity": judge.identity(args.rubric)},
        "positive_labels": list(positive), "scale": list(scale) if scale else None,
        **evaluate(items, verdicts, column, score_range(config["rubric_defs"][args.rubric]["columns"][column]), positive, scale, args.seed),
        "context": context_report(items, verdicts, judge.context_k),
        "usage": usage_report(verdicts, wall_s, args.usd_per_mtok_in, args.usd_per_mtok_out),
        "reused_verdicts_from": str(args.reuse_verdicts) if args.reuse_verdicts else None,
        "verdicts": verdicts,  # every reply, raw, per item: the figures can be recomputed without judging again
    }
    if args.ppi_simulation:
        rows, truth, n_items = ppi_validity(items, verdicts, column, score_range(config["rubric_defs"][args.rubric]["columns"][column]), positive,
                                            args.draws, args.seed)
        report["ppi_simulation"] = {"human_mean": truth, "items": n_items, "rows": rows}
        print(simulation_table(rows, truth, n_items), flush=True)
    out = args.out or results_root() / "judge_eval" / f"{args.set.stem}__{args.judge}__{args.rubric}__{report['judge']['judge_id']}.json"
    advice = "point --out at a writable folder" if args.out else RESULTS_ADVICE
    write_json(out, report, advice)
    atomic_write_bytes(out.with_suffix(".svg"), figure(report).encode(), advice)
    print(result_table(report), flush=True)  # the result on stdout; where it was written on stderr
    log.info("wrote %s", out)
    return 0


def result_table(report: dict[str, Any]) -> str:
    """The report's headline figures as aligned lines, each with its 95% interval where it has one."""
    def figure(stat: dict[str, Any] | None) -> str:
        if not stat or stat.get("value") is None:
            return "undefined"
        return f"{stat['value']:.3f} [{stat['ci_low']:.3f}, {stat['ci_high']:.3f}]" if stat.get("ci_low") is not None else f"{stat['value']:.3f}"

    rows = [("judge", f"{report['judge']['config']} / {report['judge']['rubric']} ({report['judge']['judge_id']})"),
            ("items", f"{report['n']} ({report['readable']} readable, validity {report['validity'] or 0:.3f})"),
            ("accuracy", figure(report["accuracy"])), ("balanced accuracy", figure(report["balanced_accuracy"])),
            ("Cohen's kappa", figure(report["cohen_kappa"]))]
    return "\n".join(aligned(rows))
