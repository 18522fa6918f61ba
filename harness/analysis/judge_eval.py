"""``ragsweep judge-eval --set FILE [--judge llm] [--limit N]``: how well a judge agrees with human labels.

Runs a judge configuration (any judge config: its models, one rubric) over a human-labelled calibration set
(ragsweep.judges.calibration_sets: ExpertQA claims, or a generic labelled JSONL). Each item's claim is judged
against its context passages as the rubric would judge an answer against retrieved chunks. It reports n,
validity (readable verdicts / attempted: an unreadable verdict is counted, never scored), accuracy, balanced
accuracy and Cohen's kappa with bootstrap intervals that resample whole groups (a question's claims share their
evidence), and the confusion matrix, as JSON under results/judge_eval/.

A verdict scores 1 ("YES") or 0; the human label counts as positive when it is ``--positive`` (ExpertQA's
binary support: "supported"). ``--limit`` draws a seeded subset of whole groups, the same for every judge given
the same seed, so judges compared on a subset are compared on the same items.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from ragsweep.analysis.pairwise import judge_config
from ragsweep.errors import ConfigError
from ragsweep.judges.calibration_sets import CalibrationItem, read_expertqa_claims, read_labelled_jsonl
from ragsweep.metrics.agreement import accuracy, balanced_accuracy, bootstrap_interval, cohen_kappa
from ragsweep.paths import results_root
from ragsweep.registry import JUDGES
from ragsweep.store.results import write_json
from ragsweep.types import Chunk, Generation, Query

log = logging.getLogger("ragsweep.judge_eval")
FORMATS = {"expertqa": read_expertqa_claims, "generic": read_labelled_jsonl}


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


def judge_items(judge: Any, rubric: str, items: Sequence[CalibrationItem]) -> list[float | None]:
    """The judge's score for each item's claim against its passages (None: unreadable verdict or failed call)."""
    queries, generations, chunks = [], [], {}
    for item in items:
        ids = []
        for j, passage in enumerate(item.context):
            chunk_id = f"{item.item_id}#ctx{j}"
            chunks[chunk_id] = Chunk(chunk_id, item.item_id, 0, len(passage), passage)
            ids.append(chunk_id)
        queries.append(Query(query_id=item.item_id, question=item.question or "(no question)"))
        generations.append(Generation(query_id=item.item_id, answer=item.claim, context_chunk_ids=tuple(ids)))
    verdicts = judge.judge(queries, generations, chunks)
    column = next(iter(judge.rubric_defs[rubric].columns))
    return [v["scores"].get(column, {}).get("score") for v in verdicts]


def agreement_report(items: Sequence[CalibrationItem], scores: Sequence[float | None], positive: str, seed: int) -> dict[str, Any]:
    """Validity, the confusion matrix and agreement (with group-resampled 95% intervals) over the readable verdicts."""
    human = [1 if str(i.labels[0]) == positive else 0 for i in items]
    readable = [(h, 1 if s >= 0.5 else 0, i.group) for h, s, i in zip(human, scores, items) if s is not None]
    truth, judged, groups = [r[0] for r in readable], [r[1] for r in readable], [r[2] for r in readable]
    out: dict[str, Any] = {
        "n": len(items), "readable": len(readable), "validity": len(readable) / len(items) if items else None,
        "human_positive_rate": sum(human) / len(human) if human else None,
        "confusion": {f"human_{h}_judge_{j}": sum(1 for t, p in zip(truth, judged) if (t, p) == (h, j)) for h in (1, 0) for j in (1, 0)},
    }
    for name, stat in (("accuracy", accuracy), ("balanced_accuracy", balanced_accuracy), ("cohen_kappa", cohen_kappa)):
        low, high = bootstrap_interval(stat, truth, judged, groups=groups, seed=seed) if readable else (float("nan"), float("nan"))
        out[name] = {"value": stat(truth, judged) if readable else None, "ci_low": low, "ci_high": high}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep judge-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, required=True, help="the calibration set file")
    parser.add_argument("--format", choices=sorted(FORMATS), default="expertqa", help="expertqa (claims.jsonl) or generic (labelled JSONL)")
    parser.add_argument("--judge", default="llm", help="a judge config (configs/judge/NAME.yaml); its models judge")
    parser.add_argument("--override", action="append", default=[], help="Hydra override of the judge, e.g. judge.models.0.model=...")
    parser.add_argument("--rubric", default="faithfulness", help="the rubric to judge with (its first column is scored)")
    parser.add_argument("--positive", default="supported", help="the human label that counts as a positive verdict")
    parser.add_argument("--limit", type=int, default=None, help="judge a seeded subset of about this many items (whole groups)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default results/judge_eval/<set>__<judge>__<rubric>.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    items = subset(FORMATS[args.format](args.set), args.limit, args.seed)
    config = {k: v for k, v in judge_config(args.judge, [*args.override, f"judge.rubrics=[{args.rubric}]"]).items() if k != "prompts"}
    if config.get("name") != "llm":
        raise ConfigError(f"judge-eval needs a rubric judge (judge=llm, openai or vllm), not {config.get('name')!r}")
    judge = JUDGES.build(config)
    t0 = time.perf_counter()
    scores = judge_items(judge, args.rubric, items)
    report = {
        "set": str(args.set), "format": args.format, "items": len(items), "limit": args.limit, "seed": args.seed,
        "judge": {"config": args.judge, "overrides": args.override, "rubric": args.rubric, "models": config["models"]},
        "positive_label": args.positive, "wall_s": round(time.perf_counter() - t0, 2),
        **agreement_report(items, scores, args.positive, args.seed),
    }
    out = args.out or results_root() / "judge_eval" / f"{args.set.stem}__{args.judge}__{args.rubric}.json"
    write_json(out, report)
    kappa = report["cohen_kappa"]
    log.info("%d items, validity %.3f, accuracy %s, kappa %s [%s, %s] -> %s", len(items), report["validity"] or 0.0,
             report["accuracy"]["value"], kappa["value"], kappa["ci_low"], kappa["ci_high"], out)
    return 0
