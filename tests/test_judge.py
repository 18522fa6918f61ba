"""The LLM judge end to end: prompts from configs, a judge model behind the loopback OpenAI endpoint
(the model server is the boundary), verdict reading, invalid counting, panels, the cached judge stage;
and one real judgement by the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from ragsweep.judges.llm import LLMJudge
from ragsweep.types import Chunk, Generation, Query
from tests.helpers import run, statuses
from tests.loopback_openai import LoopbackServer

RUBRIC_DEFS = {p.stem: OmegaConf.to_container(OmegaConf.load(p)) for p in sorted((Path(__file__).resolve().parent.parent / "configs/judge/rubric").glob("*.yaml"))}
CHUNKS = {"a#0": Chunk("a#0", "a", 0, 0, "Tomas Hale was born in 1949 in Calder Bay.")}
QUERIES = [
    Query("q1", "Where was Tomas Hale born?", answers=("Calder Bay",)),
    Query("q2", "Who founded Dunmoor?"),  # no reference answer: coverage and correctness do not apply
    Query("q3", "When was Hale born?", answers=("1949",)),
]
GENERATIONS = [
    Generation("q1", "Calder Bay", ("a#0",)),
    Generation("q2", "Nobody knows", ("a#0",)),
    Generation("q3", "", ("a#0",), error="TimeoutError: boom"),
]


def canned(body):
    """Coverage: readable JSON; correctness: prose with no score; faithfulness: YES; relevance: NO."""
    system = body["messages"][0]["content"]
    if "student's answer" in system:
        return '{"coverage": {"score": "partial-coverage"}, "contradiction": {"score": "no-contradiction"}}'
    if "score the generated answer" in system:
        return "A fine answer."
    return '{"verdict": "YES"}' if "supported by the context" in system else "NO"


def _judge(url: str, **kw) -> LLMJudge:
    models = kw.pop("models", [{"backend": "openai", "model": "j", "base_url": url, "backoff_s": 0.01}])
    return LLMJudge(models=models, rubrics=["coverage", "correctness", "faithfulness", "relevance"], rubric_defs=RUBRIC_DEFS, **kw)


def test_verdicts_invalid_and_skipped_are_kept_apart(isolated_cache):
    with LoopbackServer(canned) as server:
        v1, v2, v3 = _judge(server.url).judge(QUERIES, GENERATIONS, CHUNKS)
        # q1: 4 rubrics; q2: faithfulness and relevance only; q3: generation failed, not judged.
        assert server.calls == 6
        assert all(b["response_format"]["type"] == "json_schema" for b in server.bodies)
    assert v1["scores"]["judge_coverage"]["score"] == 50.0 and v1["scores"]["judge_contradiction"]["score"] == 0.0
    assert v1["scores"]["judge_correctness"]["score"] is None  # unreadable: invalid, not a pass, not a zero
    assert v1["scores"]["judge_faithfulness"]["score"] == 1.0 and v1["scores"]["judge_relevance"]["score"] == 0.0
    assert v1["raw"]["correctness"] == ["A fine answer."]
    assert set(v2["scores"]) == {"judge_faithfulness", "judge_relevance"}
    assert v3["skipped"] == "generation failed" and v3["scores"] == {}


def test_a_failed_judge_call_is_invalid(isolated_cache):
    with LoopbackServer(canned, failures=100) as server:
        [v1, *_] = _judge(server.url, models=[{"backend": "openai", "model": "j", "base_url": server.url, "max_retries": 0}]).judge(
            QUERIES, GENERATIONS, CHUNKS
        )
    assert all(s["score"] is None for s in v1["scores"].values())
    assert all(e and "InternalServerError" in e for e in v1["errors"]["coverage"])


def test_panel_averages_readable_members(isolated_cache):
    full = lambda body: '{"coverage": {"score": "full-coverage"}, "contradiction": {"score": "contradiction"}}'  # noqa: E731
    with LoopbackServer(canned) as a, LoopbackServer(full) as b:
        models = [{"backend": "openai", "model": "a", "base_url": a.url}, {"backend": "openai", "model": "b", "base_url": b.url}]
        judge = LLMJudge(models=models, rubrics=["coverage"], rubric_defs=RUBRIC_DEFS)
        [v1, _, _] = judge.judge(QUERIES, GENERATIONS, CHUNKS)
    assert v1["scores"]["judge_coverage"] == {"members": [50.0, 100.0], "agreement": [1.0, 1.0], "samples": [[50.0], [100.0]], "score": 75.0}
    assert v1["scores"]["judge_contradiction"]["score"] == 0.5


def test_judge_stage_in_a_run_records_validity_and_agreement(tmp_path):
    with LoopbackServer(canned) as server:
        overrides = ["generator=extractive", "judge=openai", f"judge.models.0.base_url={server.url}"]
        run_dir, info = run(tmp_path, *overrides)
        calls = server.calls
        _, again = run(tmp_path, *overrides)
        assert server.calls == calls  # verdicts are cached with the judge stage
    assert statuses(info)["judge"] == "computed" and statuses(again)["judge"] == "hit"
    records = pd.read_parquet(run_dir / "records.parquet")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    n = len(records)
    assert summary["judge_coverage_attempted"] == n and summary["judge_coverage_valid"] == 1.0
    assert summary["judge_correctness_valid"] == 0.0
    # Every call's usage, as the loopback server's usage block gives it (11 prompt, 3 completion tokens a call).
    assert (summary["judge_prompt_tokens"], summary["judge_completion_tokens"]) == (11 * calls, 3 * calls)
    assert records["judge_correctness"].isna().all() and (records["judge_coverage"] == 50.0).all()
    # Kappa of a constant "partial" judge against F1-derived grades: p_o = share of partial grades = p_e -> 0.
    assert summary["judge_coverage_kappa_n"] == n and summary["judge_coverage_kappa_vs_answer_f1"] == pytest.approx(0.0)
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert "judge_correctness" not in metrics and metrics["judge_faithfulness"]["mean"] == 1.0


def test_reference_policy_scores_unreadable_verdicts_zero(tmp_path):
    with LoopbackServer(canned) as server:
        overrides = ["generator=extractive", "judge=openai", f"judge.models.0.base_url={server.url}",
                     "judge.invalid_policy=zero", "judge.rubrics=[correctness]"]
        run_dir, _ = run(tmp_path, *overrides)
    records = pd.read_parquet(run_dir / "records.parquet")
    assert (records["judge_correctness"] == 0.0).all()
    assert all(list(x) == ["judge_correctness"] for x in records["judge_invalid"])


@pytest.mark.model
def test_bundled_model_judges_for_real(isolated_cache):
    judge = LLMJudge(
        models=[{"backend": "hf", "model": "bundled:SmolLM2-135M-Instruct", "max_tokens": 24, "device": "cpu"}],
        rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS,
    )
    [v1, _, _] = judge.judge(QUERIES, GENERATIONS, CHUNKS)
    [reply] = v1["raw"]["faithfulness"]
    assert reply and v1["errors"]["faithfulness"] == [None]
    from ragsweep.metrics.judge import yes_no_score

    # The schema admits two replies, so the transformers backend picks one of them by likelihood: always readable.
    assert reply in ('{"verdict": "YES"}', '{"verdict": "NO"}')
    assert v1["scores"]["judge_faithfulness"]["score"] == yes_no_score(reply)
