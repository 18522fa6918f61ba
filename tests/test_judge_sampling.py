"""Judges that hold up on small models: repeated sampling with a majority vote, stalled replies counted apart,
rubric prompts per language, and decoding by choice among the replies a rubric's schema allows."""

from __future__ import annotations

import json

import pytest

from ragsweep.errors import ConfigError
from ragsweep.judges.llm import LLMJudge
from ragsweep.llm.choices import MAX_CHOICES, enumerated_replies
from ragsweep.metrics.judge import majority_vote
from tests.loopback_openai import LoopbackServer
from tests.test_judge import CHUNKS, GENERATIONS, QUERIES, RUBRIC_DEFS

YES_NO = {"type": "object", "properties": {"verdict": {"enum": ["YES", "NO"]}}, "required": ["verdict"]}


# --- the replies a schema allows -------------------------------------------------------------------------------

def test_enumerated_replies_of_the_built_in_rubrics():
    assert enumerated_replies(RUBRIC_DEFS["faithfulness"]["schema"]) == ['{"verdict": "YES"}', '{"verdict": "NO"}']
    assert enumerated_replies(RUBRIC_DEFS["correctness"]["schema"]) == [f'{{"score": {n}}}' for n in range(1, 6)]  # reasoning is optional
    coverage = enumerated_replies(RUBRIC_DEFS["coverage"]["schema"])  # 3 coverage labels x 2 contradiction labels
    assert len(coverage) == 6 and json.loads(coverage[0]) == {"coverage": {"score": "no-coverage"}, "contradiction": {"score": "no-contradiction"}}
    assert enumerated_replies(RUBRIC_DEFS["attribution"]["schema"]) is None  # an array of free-text claims


@pytest.mark.parametrize("schema", [
    None, {}, {"type": "object", "properties": {"why": {"type": "string"}}, "required": ["why"]},  # free text required
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 100}}, "required": ["n"]},  # too wide
    {"type": "object", "properties": {"v": {"enum": ["a"]}}},  # nothing required: the empty object would be the reply
    {"type": "object", "properties": {"v": {"enum": []}}, "required": ["v"]},
    {"type": "object", "properties": {k: {"enum": list(range(3))} for k in "abcd"}, "required": list("abcd")},  # 81 > 64
    {"enum": ["YES", "NO"]},  # not an object: no JSON object reply
])
def test_schemas_that_are_not_enumerable_are_decoded_freely(schema):
    assert enumerated_replies(schema) is None


def test_enumeration_stops_at_max_choices():
    schema = {"type": "object", "properties": {k: {"type": "boolean"} for k in "abcdef"}, "required": list("abcdef")}
    assert len(enumerated_replies(schema)) == 2**6 == MAX_CHOICES


# --- the vote --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("samples, expected", [
    ([1.0, 1.0, 0.0], (1.0, 2 / 3)),
    ([1.0, None, 0.0, 0.0], (0.0, 2 / 3)),  # the unreadable sample is left out of the vote and the agreement
    ([1.0, 0.0], (0.5, 0.5)),  # a tie: the mean of the tied scores
    ([50.0, 100.0, 0.0], (50.0, 1 / 3)),  # all tied at one each
    ([None, None], (None, None)),
    ([100.0], (100.0, 1.0)),
])
def test_majority_vote_by_hand(samples, expected):
    assert majority_vote(samples) == (expected[0], pytest.approx(expected[1]) if expected[1] is not None else None)


# --- repeated sampling and stalls, scripted behind the loopback server -------------------------------------------

def by_seed(replies):
    """A judge server whose faithfulness reply depends on the request's seed (what sampling at temperature > 0 does)."""
    return lambda body: replies[body["seed"]] if "supported by the context" in body["messages"][0]["content"] else '{"verdict": "NO"}'


def _sampling_judge(url, samples=3, **kw):
    model = {"backend": "openai", "model": "j", "base_url": url, "temperature": 0.7, "seed": 0, "max_retries": 0, **kw}
    return LLMJudge(models=[model], rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS, samples=samples)


def test_repeated_sampling_votes_and_measures_agreement(isolated_cache):
    replies = {0: '{"verdict": "YES"}', 1: '{"verdict": "NO"}', 2: '{"verdict": "YES"}'}
    with LoopbackServer(by_seed(replies)) as server:
        v1, v2, v3 = _sampling_judge(server.url).judge(QUERIES, GENERATIONS, CHUNKS)
        assert sorted(b["seed"] for b in server.bodies) == [0, 0, 1, 1, 2, 2]  # q1 and q2, seeds 0..2 each
    score = v1["scores"]["judge_faithfulness"]
    assert score["samples"] == [[1.0, 0.0, 1.0]] and score["members"] == [1.0] and score["agreement"] == [pytest.approx(2 / 3)]
    assert score["score"] == 1.0 and v1["raw"]["faithfulness"] == [replies[0], replies[1], replies[2]]
    assert v1["usage"]["faithfulness"] == {"prompt_tokens": 3 * 11, "completion_tokens": 3 * 3}
    assert v3["skipped"] == "generation failed"


def test_samples_in_a_run_give_self_agreement_and_change_the_judge_key(tmp_path):
    from tests.helpers import run, statuses
    import pandas as pd

    replies = {0: '{"verdict": "YES"}', 1: '{"verdict": "YES"}', 2: '{"verdict": "NO"}'}
    with LoopbackServer(by_seed(replies)) as server:
        base = ["generator=extractive", "judge=openai", f"judge.models.0.base_url={server.url}", "judge.rubrics=[faithfulness]",
                "judge.models.0.temperature=0.7", "judge.models.0.seed=0"]
        _, single = run(tmp_path, *base)
        run_dir, voted = run(tmp_path, *base, "judge.samples=3")
    assert statuses(single)["judge"] == "computed" and statuses(voted)["judge"] == "computed"  # k is in the judge key
    records = pd.read_parquet(run_dir / "records.parquet")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert (records["judge_faithfulness"] == 1.0).all() and records["judge_faithfulness_agreement"].tolist() == pytest.approx([2 / 3] * len(records))
    assert summary["judge_faithfulness_self_agreement"] == pytest.approx(2 / 3)


def test_samples_need_a_temperature(isolated_cache):
    with pytest.raises(ConfigError, match="temperature > 0"):
        LLMJudge(models=[{"backend": "openai", "model": "j", "temperature": 0.0}], rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS, samples=3)
    with pytest.raises(ConfigError, match="whole number >= 1"):
        LLMJudge(models=[{"backend": "openai", "model": "j"}], rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS, samples=0)


def test_a_reply_that_fills_max_tokens_inside_its_json_is_counted_stalled(isolated_cache):
    # faithfulness allows 16 tokens; the server says it used all 16 and the JSON never closed.
    with LoopbackServer(lambda body: '{"verdict": "YE', completion_tokens=16) as server:
        [v1, v2, _] = _sampling_judge(server.url, samples=1, temperature=0.0).judge(QUERIES, GENERATIONS, CHUNKS)
    assert v1["stalled"] == {"faithfulness": 1} and v1["scores"]["judge_faithfulness"]["score"] is None
    # The same unreadable reply within its budget is unreadable, not stalled.
    with LoopbackServer(lambda body: '{"verdict": "YE', completion_tokens=5) as server:
        [v1, *_] = _sampling_judge(server.url, samples=1, temperature=0.0).judge(QUERIES, GENERATIONS, CHUNKS)
    assert v1["stalled"] == {"faithfulness": 0} and v1["scores"]["judge_faithfulness"]["score"] is None


def test_stalls_are_summed_in_the_run_summary(tmp_path):
    from tests.helpers import run

    with LoopbackServer(lambda body: '{"verdict": "YE', completion_tokens=16) as server:
        run_dir, _ = run(tmp_path, "generator=extractive", "judge=openai", f"judge.models.0.base_url={server.url}", "judge.rubrics=[faithfulness]")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert summary["judge_stalled_faithfulness"] == summary["judge_faithfulness_attempted"] > 0
    assert summary["judge_faithfulness_valid"] == 0.0


# --- prompts per language ----------------------------------------------------------------------------------------

def test_the_judge_language_picks_the_rubric_prompt(isolated_cache):
    defs = {**RUBRIC_DEFS, "faithfulness": {**RUBRIC_DEFS["faithfulness"], "prompts": {"th": {"system": "ตอบ", "user": "ข้อมูล: {answer}", "max_tokens": 7}}}}
    with LoopbackServer(lambda body: '{"verdict": "YES"}') as server:
        models = [{"backend": "openai", "model": "j", "base_url": server.url}]
        LLMJudge(models=models, rubrics=["faithfulness"], rubric_defs=defs, language="th").judge(QUERIES[:1], GENERATIONS, CHUNKS)
        LLMJudge(models=models, rubrics=["faithfulness"], rubric_defs=defs, language="en").judge(QUERIES[:1], GENERATIONS, CHUNKS)
    th, en = server.bodies
    assert th["messages"][0]["content"] == "ตอบ" and th["messages"][-1]["content"] == "ข้อมูล: Calder Bay"
    assert en["messages"][0]["content"] == RUBRIC_DEFS["faithfulness"]["prompt"]["system"]
    # The language's prompt brings its own token budget.
    assert (th["max_tokens"], en["max_tokens"]) == (7, RUBRIC_DEFS["faithfulness"]["prompt"]["max_tokens"])


def test_a_language_prompt_without_a_user_template_is_one_line(isolated_cache):
    defs = {**RUBRIC_DEFS, "faithfulness": {**RUBRIC_DEFS["faithfulness"], "prompts": {"th": {"system": "ตอบ"}}}}
    with pytest.raises(ConfigError, match="judge rubric 'faithfulness': prompts must map a language code"):
        LLMJudge(models=[{"backend": "openai", "model": "j"}], rubrics=["faithfulness"], rubric_defs=defs)


# --- decoding by choice with the bundled model -------------------------------------------------------------------

@pytest.mark.model
@pytest.mark.parametrize("schema", [YES_NO, RUBRIC_DEFS["coverage"]["schema"]])  # 2 replies; 6 of unequal lengths
def test_choice_decoding_picks_the_reply_with_the_highest_likelihood(isolated_cache, schema):
    """The batched scoring (prompts left-padded and run once, their cache repeated for the replies) equals each
    reply's log-likelihood computed alone, unpadded, in one forward pass."""
    import torch

    from ragsweep.llm.base import build_backend
    from ragsweep.models.causal_lm import load_causal_lm

    backend = build_backend({"backend": "hf", "model": "bundled:SmolLM2-135M-Instruct", "device": "cpu", "batch_size": 4})
    conversations = [[{"role": "user", "content": q}] for q in ("Is Paris in France? " * 20, "Is ice hot? Answer in JSON.", "Hi")]
    picked = backend.complete(conversations, json_schema=schema)
    tokenizer, model = load_causal_lm("bundled:SmolLM2-135M-Instruct", "cpu")
    replies = enumerated_replies(schema)
    for conversation, completion in zip(conversations, picked):
        prompt = tokenizer(tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False), add_special_tokens=False)["input_ids"]
        loglik = []
        for reply in replies:
            target = tokenizer(reply, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logprobs = torch.log_softmax(model(torch.tensor([prompt + target])).logits[0].float(), -1)
            loglik.append(sum(logprobs[len(prompt) - 1 + t, tok].item() for t, tok in enumerate(target)))
        assert completion.text == replies[loglik.index(max(loglik))] and completion.error is None
        assert completion.prompt_tokens == len(prompt)


def test_choice_groups_bound_the_repeated_cache():
    from ragsweep.llm.hf import CHOICE_ROWS, CHOICE_TOKEN_ROWS, choice_groups

    assert (CHOICE_ROWS, CHOICE_TOKEN_ROWS) == (48, 16384)
    # Short prompts, 2 replies: batch_size (8) decides.
    assert choice_groups([100] * 10, 2, 8) == [list(range(8)), [8, 9]]
    # 6 replies: 48 rows allow 8 prompts of 300 tokens (8 x 6 x 300 = 14,400), not 9 of 341.
    assert choice_groups([300] * 9, 6, 16) == [list(range(8)), [8]]
    # Long prompts: 2 x 6 x 2000 = 24,000 > 16,384, so each goes alone; a short one after a long one waits its turn.
    assert choice_groups([2000, 2000, 50, 50], 6, 8) == [[0], [1], [2, 3]]
    assert choice_groups([20000], 2, 8) == [[0]]  # too long for any company: alone, never dropped
    assert choice_groups([], 2, 8) == []
