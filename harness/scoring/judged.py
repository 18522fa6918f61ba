"""Judged columns: the judge's per-rubric scores (an unreadable verdict is None and listed in
``judge_invalid``, or 0 under ``invalid_policy: zero``), its raw replies, ragas's scores; with repeated
sampling, each column's self-agreement (``<column>_agreement``: the share of samples on the voted score). In
the summary: each column's validity, stalled replies per rubric, mean self-agreement, and the judge's agreement
with a grade derived from the answers' EM / F1."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ragsweep.metrics.agreement import cohen_kappa
from ragsweep.metrics.judge import coverage_label_from_f1
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView


def judge_columns(verdict: dict[str, Any], invalid_policy: str) -> dict[str, Any]:
    """Per-query judge scores (None = unreadable, or 0 under the reference policy), raw replies, ragas."""
    row: dict[str, Any] = {"judge_raw": json.dumps(verdict["raw"], ensure_ascii=False, sort_keys=True), "judge_skipped": verdict["skipped"]}
    invalid = []
    for column, s in verdict["scores"].items():
        score = s["score"]
        if score is None:
            invalid.append(column)
            score = 0.0 if invalid_policy == "zero" else None
        row[column] = score
        if any(len(samples) > 1 for samples in s.get("samples", ())):
            agreements = [a for a in s["agreement"] if a is not None]
            row[f"{column}_agreement"] = sum(agreements) / len(agreements) if agreements else None
    row["judge_invalid"] = invalid
    row.update(verdict.get("ragas", {}))
    return row


@METRICS.register("judged")
class JudgedColumns(Metric):
    phase = "answer"
    needs = "a judge (judge=llm, openai, vllm or ragas)"

    def declared_columns(self) -> list[str]:
        return []  # the judge's rubrics declare its columns (engine/runner.py: judge_columns_declared)

    def columns(self, view: QueryView) -> dict[str, Any]:
        return judge_columns(view.judgement, view.invalid_policy) if view.judgement is not None else {}

    def summary(self, records, result) -> dict[str, Any]:
        return judge_summary(records, result) if result.judgements else {}


def judge_summary(records: Sequence[dict[str, Any]], result: Any) -> dict[str, Any]:
    """How many verdicts each judge column attempted and could read, and the judge's agreement with gold:
    Cohen's kappa of judged coverage vs a coverage grade derived from answer EM/F1 (short-answer suites)."""
    out: dict[str, Any] = {"judge_skipped": sum(1 for r in records if r.get("judge_skipped"))}
    judged = sorted({c for j in result.judgements for c in j["scores"]})
    ragas = sorted({k for r in records for k in r if k.startswith("ragas_")})
    # A judge verdict is invalid when listed in judge_invalid (it may read 0 under the reference policy);
    # a ragas score when ragas returned NaN.
    checks = [(c, lambda r, c=c: c not in r["judge_invalid"]) for c in judged] + [(c, lambda r, c=c: r[c] is not None) for c in ragas]
    for column, is_valid in checks:
        attempted = [r for r in records if column in r]
        out[f"{column}_attempted"] = len(attempted)
        out[f"{column}_valid"] = sum(1 for r in attempted if is_valid(r)) / len(attempted) if attempted else None
        agreements = [r[f"{column}_agreement"] for r in attempted if r.get(f"{column}_agreement") is not None]
        if agreements:
            out[f"{column}_self_agreement"] = sum(agreements) / len(agreements)
    for rubric in sorted({rubric for j in result.judgements for rubric in j.get("stalled", {})}):
        out[f"judge_stalled_{rubric}"] = sum(j["stalled"].get(rubric, 0) for j in result.judgements if "stalled" in j)
    # What judging cost: tokens over every call (every model and sample), as the backends counted them.
    usage = [u for j in result.judgements for u in j.get("usage", {}).values()]
    if usage:
        out["judge_prompt_tokens"] = sum(u["prompt_tokens"] for u in usage)
        out["judge_completion_tokens"] = sum(u["completion_tokens"] for u in usage)
    pairs = [
        (r["judge_coverage"], coverage_label_from_f1(r["answer_em"], r["answer_f1"]))
        for r in records
        if "answer_f1" in r and r.get("judge_coverage") is not None and "judge_coverage" not in r.get("judge_invalid", ())
    ]
    if pairs:
        out["judge_coverage_kappa_vs_answer_f1"] = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
        out["judge_coverage_kappa_n"] = len(pairs)
    return out
