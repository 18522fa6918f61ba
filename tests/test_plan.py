"""``ragsweep plan``: what a sweep will ask of language models, counted before it asks, and held against what the
run then sent. An OpenAI-compatible loopback server receives the run's requests; their prompt tokens, counted as
the backend counts them, equal the plan's for generation, and the judge's planned prompts (answers at their
max_tokens bound) are at least what the judge then sent, in as many calls."""

from __future__ import annotations

import pytest

from ragsweep.commands.plan import Totals, main, over_budget
from ragsweep.llm.base import CHAT_TOKENS_PER_MESSAGE, CHAT_TOKENS_PER_REPLY
from ragsweep.text import tiktoken_encoding
from tests.helpers import run
from tests.loopback_openai import LoopbackServer

JUDGE_RUBRICS = ["coverage", "correctness", "faithfulness", "relevance"]  # configs/judge/llm.yaml's default rubrics


def sent_tokens(body: dict) -> int:
    """A request's prompt tokens as the openai backend counts them: cl100k text tokens and the chat format's."""
    enc = tiktoken_encoding("cl100k_base")
    return sum(len(enc.encode(m["content"], disallowed_special=())) + CHAT_TOKENS_PER_MESSAGE for m in body["messages"]) + CHAT_TOKENS_PER_REPLY


def overrides(url: str) -> list[str]:
    return ["task=multihop_mini", "retriever=bm25", "task.limit=3", "generator=openai", f"generator.base_url={url}", "generator.max_tokens=16",
            "judge=openai", f"judge.models.0.base_url={url}", "judge.models.0.model=judge-model", "judge.models.0.max_tokens=32"]


def test_the_plan_counts_what_the_run_then_sends(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with LoopbackServer(lambda body: '{"verdict": "YES"}' if body["model"] == "judge-model" else "Calder Bay") as server:
        assert main(["ci", *overrides(server.url)]) == 0
        out = capsys.readouterr().out
        assert server.calls == 0  # nothing was asked while planning
        assert "cached before: nothing" in out and "3 calls to default" in out and "12 calls to judge-model" in out
        run_dir, info = run(tmp_path, *overrides(server.url))
    generation = [b for b in server.bodies if b["model"] == "default"]
    judging = [b for b in server.bodies if b["model"] == "judge-model"]
    assert len(generation) == 3 and len(judging) == 3 * len(JUDGE_RUBRICS)
    sent = sum(sent_tokens(b) for b in generation)
    assert f"3 calls to default, {sent:,} prompt + at most {3 * 16:,} completion tokens" in out  # exactly what was sent
    planned_judge = int(out.split("12 calls to judge-model, ")[1].split(" prompt")[0].replace(",", ""))
    assert planned_judge >= sum(sent_tokens(b) for b in judging)  # answers planned at their bound, sent shorter
    assert f"at most {sum(b['max_tokens'] for b in judging):,} completion tokens" in out  # each rubric's bound, as sent
    assert info["stages"]["load"]["status"] == info["stages"]["retrieve"]["status"] == "hit"  # the plan cached them


def test_a_second_plan_says_what_the_cache_holds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with LoopbackServer(lambda body: "Calder Bay") as server:
        run(tmp_path, *overrides(server.url)[:6], "judge=none")
        assert main(["ci", *overrides(server.url)[:6], "judge=none"]) == 0
    out = capsys.readouterr().out
    assert "cached before: load, chunk, index, retrieve, generate" in out
    assert "generate: cached" in out and "total: 0 LLM calls, 0 prompt + at most 0 completion tokens" in out


def test_a_budget_refuses_a_sweep_that_would_go_over(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with LoopbackServer(lambda body: "x") as server:
        args = ["ci", *overrides(server.url)[:6], "judge=none", "+pricing={default: {input_per_mtok: 1000.0, output_per_mtok: 2000.0}}"]
        assert main([*args, "--max-tokens", "10"]) == 1
        assert "is over --max-tokens 10" in capsys.readouterr().err
        assert main([*args, "--max-usd", "100"]) == 0
        out = capsys.readouterr().out
        assert main([*args, "--max-usd", "0.01"]) == 1
        assert "is over --max-usd 0.01" in capsys.readouterr().err
    prompt = int(out.split("3 calls to default, ")[1].split(" prompt")[0].replace(",", ""))
    assert f"USD {(prompt * 1000.0 + 3 * 16 * 2000.0) / 1e6:.4f}" in out  # by hand: tokens x price per million


@pytest.mark.parametrize("totals, max_usd, max_tokens, why", [
    (Totals(3, 100, 50, 0.5, None, []), None, None, None),
    (Totals(3, 100, 50, 0.5, None, []), None, 150, None),
    (Totals(3, 100, 50, 0.5, None, []), None, 149, "150 tokens (prompt + completion at max_tokens) is over --max-tokens 149"),
    (Totals(3, 100, 50, None, None, []), 1.0, None, "some model with calls has no price (pricing.<model>), so --max-usd cannot be checked"),
    (Totals(3, 100, 50, 0.5, None, ["a / b: assess"]), None, 10**9, "cannot bound what is not counted: a / b: assess"),
    (Totals(3, 100, 50, 0.5, None, []), 0.4, None, "USD 0.5000 is over --max-usd 0.4"),
])
def test_over_budget(totals, max_usd, max_tokens, why):
    assert over_budget(totals, max_usd, max_tokens) == why


@pytest.mark.model
def test_the_plan_of_the_bundled_model_counts_its_chat_template_exactly(tmp_path, monkeypatch, capsys):
    """SmolLM2 through transformers: the planned prompt tokens are the ones the run then reports, to the token."""
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    args = ["task=multihop_mini", "retriever=bm25", "task.limit=2", "generator=hf", "generator.max_tokens=4"]
    assert main(["ci", *args]) == 0
    out = capsys.readouterr().out
    run_dir, info = run(tmp_path, *args)
    import json

    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert f"2 calls to bundled:SmolLM2-135M-Instruct, {summary['prompt_tokens']:,} prompt + at most 8 completion tokens" in out
    assert summary["completion_tokens"] <= 8 and info["stages"]["retrieve"]["status"] == "hit"


def calls(model: str, n: int, prompt: int, completion: int, backend: str = "hf"):
    """Calls each alone, every prompt token evaluated, with no attention counted: for the tests of counts and USD."""
    from ragsweep.types import LLMCalls

    return LLMCalls(model, backend, n, prompt, completion, prompt, 0, completion)


def test_a_plans_usd_skips_models_without_calls_and_needs_a_price_for_every_other():
    from ragsweep.engine.plan import RunPlan

    prices = {"gen": {"input_per_mtok": 2.0, "output_per_mtok": 10.0}}
    idle, gen = calls("unpriced", 0, 0, 0), calls("gen", 4, 1_000, 200)
    plan = RunPlan("x", 4, {}, {"judge": [idle], "generate": [gen]}, prices)
    assert plan.usd() == pytest.approx((1_000 * 2.0 + 200 * 10.0) / 1e6)  # the idle judge model ends nothing early
    assert RunPlan("x", 4, {}, {"generate": [gen, calls("unpriced", 1, 5, 5)]}, prices).usd() is None


def test_the_work_of_calls_is_counted_by_hand():
    """Two prompts of 100 and 120 tokens sharing 40, replies of 10 and 20, decoded together; then each alone."""
    from ragsweep.llm.work import PromptBatch, attention_pairs, llm_calls

    together = llm_calls("llamacpp", "M", [PromptBatch((100, 120), shared=40)], [10, 20])
    assert (together.calls, together.prompt_tokens, together.completion_tokens) == (2, 220, 30)
    assert together.evaluated_tokens == 40 + 60 + 80  # the shared 40 once
    assert together.attention_pairs == 40 * 41 // 2 + (110 * 111 - 40 * 41) // 2 + (140 * 141 - 40 * 41) // 2 == 15_155
    assert together.decode_steps == 20  # one step a token of the longest reply, for both
    alone = llm_calls("llamacpp", "M", [PromptBatch((100,)), PromptBatch((120,))], [10, 20])
    assert (alone.evaluated_tokens, alone.attention_pairs, alone.decode_steps) == (220, 110 * 111 // 2 + 140 * 141 // 2, 30)
    assert together + alone == llm_calls("llamacpp", "M", [PromptBatch((100, 120), 40), PromptBatch((100,)), PromptBatch((120,))], [10, 20, 10, 20])
    assert together.times(3).attention_pairs == 3 * 15_155 and attention_pairs(5, 5) == 0
    with pytest.raises(ValueError, match="3 replies for 2 conversations"):
        llm_calls("llamacpp", "M", [PromptBatch((100, 120))], [1, 2, 3])
    with pytest.raises(ValueError, match="shared prefix"):
        PromptBatch((30, 120), shared=40)
    with pytest.raises(ValueError, match="do not add up"):
        together + llm_calls("hf", "M", [], [])


def test_unit_costs_are_fitted_per_backend_and_never_read_from_random_weights(tmp_path):
    """Walls made of 1 ms an evaluated token, 0.2 us an attention pair, 4 ms a reply token and 20 ms a decoding
    step: the fit gives the four back from the bench's single and batched repeats, and a plan's time is its work at
    those costs, by hand, over every LLM stage with calls."""
    import json
    from dataclasses import asdict

    from ragsweep.engine.plan import RunPlan, measured_costs
    from ragsweep.llm.work import PromptBatch, llm_calls

    bench = tmp_path / "generation.json"
    assert measured_costs(bench) == {}  # never measured here

    def measured(backend: str, unit_s: tuple[float, float, float, float]) -> dict:
        def wall(work) -> float:
            return sum(u * n for u, n in zip(unit_s, (work.evaluated_tokens, work.attention_pairs, work.completion_tokens, work.decode_steps)))

        def repeats(lengths: tuple[int, ...], shared: int, replies: list[int]) -> dict:
            single = llm_calls(backend, "bundled:M", [PromptBatch((n,)) for n in lengths], replies)
            batched = llm_calls(backend, "bundled:M", [PromptBatch(lengths, shared)], replies)
            return {mode: {"repeats": [{"wall_s": wall(w), "work": asdict(w)}]} for mode, w in (("single", single), ("batched", batched))}

        return {"weights_bytes": 1, "workloads": {"generate": repeats((400, 420, 390), 30, [64, 60, 64]),
                                                  "generate_long": repeats((1100, 1150), 30, [64, 50]),
                                                  "verdict": repeats((377, 380, 376, 379), 298, [12, 12, 12, 12])}}

    llamacpp_s, hf_s = (1e-3, 2e-7, 4e-3, 2e-2), (3e-3, 1e-6, 1e-2, 5e-2)
    result = {"model": "bundled:M", "load_format": "auto", "arch": {}, "floor": {"gemm_gflop_s": 9.0}, "hf": measured("hf", hf_s),
              "llamacpp": measured("llamacpp", llamacpp_s), "vllm": "skipped: vllm is not installed here"}
    bench.write_text(json.dumps(result))
    costs = measured_costs(bench)
    assert sorted(costs) == [("hf", "bundled:M"), ("llamacpp", "bundled:M")]
    fitted = costs[("llamacpp", "bundled:M")]
    assert (fitted.per_evaluated_token_s, fitted.per_attention_pair_s, fitted.per_reply_token_s, fitted.per_decode_step_s) == pytest.approx(llamacpp_s, rel=1e-6)
    fitted = costs[("hf", "bundled:M")]
    assert (fitted.per_evaluated_token_s, fitted.per_attention_pair_s, fitted.per_reply_token_s, fitted.per_decode_step_s) == pytest.approx(hf_s, rel=1e-6)
    generate = llm_calls("llamacpp", "bundled:M", [PromptBatch((100, 120), shared=40)], [10, 20])  # counted by hand above
    judge = llm_calls("hf", "bundled:M", [PromptBatch((50,))], [4])
    plan = RunPlan("x", 4, {}, {"generate": [generate], "judge": [judge, calls("idle", 0, 0, 0)]}, {})
    by_hand = (180 * 1e-3 + 15_155 * 2e-7 + 30 * 4e-3 + 20 * 2e-2) + (50 * 3e-3 + 54 * 55 // 2 * 1e-6 + 4 * 1e-2 + 4 * 5e-2)  # the reply attends too
    assert plan.seconds(costs) == pytest.approx(by_hand)
    assert RunPlan("x", 4, {}, {"generate": [calls("other", 4, 1_000, 128, "llamacpp")]}, {}).seconds(costs) is None  # not measured
    bench.write_text(json.dumps({**result, "load_format": "dummy"}))
    assert measured_costs(bench) == {}  # a random-weight shape's costs say nothing of the real model's
    bench.write_text(json.dumps(result)[:-5])
    assert measured_costs(bench) == {}  # truncated: no costs, not a crash
    old = json.loads(json.dumps(result))
    for workload in old["llamacpp"]["workloads"].values():
        for mode in workload.values():
            for r in mode["repeats"]:
                del r["work"]
    bench.write_text(json.dumps(old))
    assert sorted(measured_costs(bench)) == []  # a bench from before the work was recorded: measure again


def test_a_sweep_with_a_budget_plans_first_and_starts_nothing_over_it(tmp_path, monkeypatch, capsys):
    from ragsweep.commands.cli import main as ragsweep

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with LoopbackServer(lambda body: "x") as server:
        code = ragsweep(["sweep", "ci", *overrides(server.url)[:6], "judge=none", "--max-tokens", "10"])
        assert code == 1 and server.calls == 0
    captured = capsys.readouterr()
    assert "ragsweep plan ci: 1 run(s)" in captured.out and "is over --max-tokens 10" in captured.err
    assert not (tmp_path / "runs" / "ci").exists()  # no job ran


@pytest.mark.process  # the sweep's jobs
def test_a_sweep_opens_with_its_plan_in_one_line(tmp_path, monkeypatch, capsys):
    from ragsweep.commands.cli import main as ragsweep

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    with LoopbackServer(lambda body: "Calder Bay") as server:
        assert ragsweep(["sweep", "ci", *overrides(server.url)[:6], "judge=none"]) == 0
        assert server.calls == 3  # the plan asked nothing; the sweep asked once a question
        sent = sum(sent_tokens(b) for b in server.bodies)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("plan: ")]
    assert lines == [f"plan: 1 run(s), 1 with an LLM stage (0 of 1 LLM stages cached); total: 3 LLM calls, {sent:,} prompt + at most 48 "
                     "completion tokens; no price for some model (set pricing.<model>); time: no measured cost on this machine for "
                     "some backend and model (ragsweep bench generation)"]


@pytest.mark.process  # the sweep's jobs
def test_a_sweep_without_an_llm_stage_says_so_and_no_plan_says_nothing(tmp_path, monkeypatch, capsys):
    from ragsweep.commands.cli import main as ragsweep

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    assert ragsweep(["sweep", "ci", "task=multihop_mini", "task.limit=2", "retriever=bm25,dense"]) == 0
    out = capsys.readouterr().out
    assert "plan: 2 run(s), none with an LLM stage: nothing will be asked of a language model\n" in out
    assert ragsweep(["sweep", "ci", "task=multihop_mini", "task.limit=2", "retriever=bm25", "--no-plan", "--rerun"]) == 0
    assert "plan: " not in capsys.readouterr().out


def test_a_plan_sweeps_the_values_the_command_line_lists(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    assert main(["ci", "task=multihop_mini", "task.limit=2", "retriever=bm25,bm25_reference", "--brief"]) == 0
    assert capsys.readouterr().out == "plan: 2 run(s), none with an LLM stage: nothing will be asked of a language model\n"


@pytest.mark.process  # the command, and the sweep's jobs
def test_a_run_the_opening_plan_cannot_plan_fails_as_its_job_and_the_sweep_goes_on(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "ragsweep", "sweep", "ci", "task=span_mini", "retriever=bm25", "top_k=3,20"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 1 and "1 of 2 runs failed" in out.stdout + out.stderr, out.stderr[-2000:]  # after the other run
    assert ("plan: 2 run(s), none with an LLM stage among the 1 planned; not planned, task=span_mini retriever=bm25 "
            "+sweep=ci top_k=3: top_k=3 is smaller than eval_k=10") in out.stdout
    assert len(list((tmp_path / "runs" / "ci").glob("*/metrics.json"))) == 1


def test_a_component_that_breaks_while_planning_is_named_in_the_opening_line(tmp_path, monkeypatch, capsys):
    """A bug in a component's counting (here: planning raises) does not stop the sweep's opening line, which names
    the run and the error; without --brief the plan fails as before."""
    from ragsweep.commands import plan

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    monkeypatch.setattr(plan, "plan_run", broken)
    with LoopbackServer(lambda body: "x") as server:
        assert main(["ci", *overrides(server.url)[:6], "judge=none", "--brief"]) == 0
        with pytest.raises(RuntimeError, match="boom"):
            main(["ci", *overrides(server.url)[:6], "judge=none"])
        assert server.calls == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("plan: 1 run(s), none with an LLM stage among the 0 planned; not planned, task=multihop_mini ")
    assert line.endswith(" judge=none: RuntimeError: boom")
