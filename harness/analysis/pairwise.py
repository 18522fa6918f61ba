"""``ragsweep pairwise RUN_A RUN_B [--judge llm]``: which of two runs answers better, query by
query, judged by an LLM asked in both orders (A first, then B first). A verdict counts only when both
orders agree; disagreement is position bias and is counted as ``inconsistent``, never as a win. Runs must
have scored the same data (metrics.json ``data_identity``); queries are matched by id, and those without an
answer in either run are counted as ``not_compared``. Writes results/pairwise/<A>__vs__<B>.json.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir

from ragsweep.store.run_folder import RunFolder
from ragsweep.paths import CONFIG_DIR, results_root
from ragsweep.errors import DataError
from ragsweep.llm.base import build_backend
from ragsweep.llm.prompting import render
from ragsweep.engine.pipeline import plain_config
from ragsweep.store.results import write_json
from ragsweep.metrics.judge import pairwise_verdict, pairwise_winner
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.analysis.pairwise")


def judge_config(judge: str, overrides: list[str]) -> dict[str, Any]:
    """The judge config (its models) with the pairwise prompt (configs/judge/prompts/v1.yaml) under ``prompts``:
    the prompt is composed beside the judge, not inside it, so it is no parameter of the per-answer judge."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"judge={judge}", "+judge/prompts@pairwise_prompts=v1", *overrides])
    return {**plain_config(cfg.judge), "prompts": plain_config(cfg.pairwise_prompts)}


def compare_runs(run_a: Path, run_b: Path, model: dict[str, Any], prompt: dict[str, Any]) -> dict[str, Any]:
    folder_a, folder_b = RunFolder.read(run_a), RunFolder.read(run_b)
    ids = folder_a.metrics.get("data_identity"), folder_b.metrics.get("data_identity")
    if None in ids or ids[0] != ids[1]:
        raise DataError(run_b, f"not the same data as {run_a} (data identity {ids[1]} vs {ids[0]}): query ids would pair different questions")
    a = folder_a.records().set_index("query_id")
    b = folder_b.records().set_index("query_id")
    for run, frame in ((run_a, a), (run_b, b)):
        if "answer" not in frame:
            raise DataError(run / "records.parquet", "no answers: pairwise judging needs runs with a generator", field="answer")
    shared = [q for q in a.index if q in b.index and a.at[q, "answer"] and b.at[q, "answer"]]
    conversations = []
    for q in shared:
        fields = {"question": a.at[q, "question"], "reference": " | ".join(a.at[q, "answers"])}
        conversations.append(render(prompt, **fields, first=a.at[q, "answer"], second=b.at[q, "answer"]))
        conversations.append(render(prompt, **fields, first=b.at[q, "answer"], second=a.at[q, "answer"]))
    completions = build_backend(model).complete(conversations, desc="pairwise", max_tokens=prompt.get("max_tokens"))
    per_query, counts = {}, Counter()
    for i, q in enumerate(shared):
        a_first, b_first = completions[2 * i], completions[2 * i + 1]
        verdict = pairwise_verdict(
            None if a_first.error else pairwise_winner(a_first.text), None if b_first.error else pairwise_winner(b_first.text)
        )
        counts[verdict] += 1
        per_query[q] = {"verdict": verdict, "raw_a_first": a_first.text, "raw_b_first": b_first.text}
    readable = len(shared) - counts["invalid"]
    decided = counts["A"] + counts["B"] + counts["tie"]
    return {
        "run_a": str(run_a), "run_b": str(run_b), "judge_model": model, "queries": len(shared),
        "not_compared": len(a) - len(shared),  # queries of A without an answer in one of the runs (failed generations)
        "counts": {k: counts[k] for k in ("A", "B", "tie", "inconsistent", "invalid")},
        "position_consistency": decided / readable if readable else None,
        "a_win_rate_of_decided": counts["A"] / decided if decided else None,
        "per_query": per_query,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep pairwise", description=plain_doc(__doc__))
    parser.add_argument("run_a", type=Path, help="the first run's folder")
    parser.add_argument("run_b", type=Path, help="the second run's folder")
    parser.add_argument("--judge", default="llm", help="a configs/judge file; its first model judges")
    parser.add_argument("--override", action="append", default=[], help="Hydra override, e.g. judge.models.0.model=...")
    parser.add_argument("--out", type=Path, default=None, help="where the JSON report goes (default: under the results folder)")
    args = parser.parse_args(argv)
    setup_logging()
    judge = judge_config(args.judge, args.override)
    result = compare_runs(args.run_a, args.run_b, judge["models"][0], judge["prompts"]["pairwise"])
    out = args.out or results_root() / "pairwise" / f"{args.run_a.name}__vs__{args.run_b.name}.json"
    write_json(out, result)
    log.info("%s (position consistency %s) -> %s", result["counts"], result["position_consistency"], out)
