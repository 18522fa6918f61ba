"""``ragsweep judge-eval`` end to end with a scripted judge behind the loopback OpenAI endpoint: every figure of
its report computed by hand from the replies."""

from __future__ import annotations

import json

import pytest

from ragsweep.analysis.judge_eval import main, subset
from ragsweep.judges.calibration_sets import read_expertqa_claims
from tests.loopback_openai import LoopbackServer
from tests.test_calibration_sets import claim, write

REPLIES = {"alpha": '{"verdict": "YES"}', "beta": '{"verdict": "NO"}', "gamma": "maybe", "delta": '{"verdict": "YES"}'}


def scripted(body) -> str:
    prompt = body["messages"][-1]["content"]
    return next(reply for word, reply in REPLIES.items() if f"claim {word}" in prompt)


def test_judge_eval_reports_validity_agreement_and_confusion(tmp_path, isolated_cache):
    path = tmp_path / "claims.jsonl"
    write(path, [claim("alpha", "Complete", question="q1"), claim("beta", "Incomplete", question="q1"),
                 claim("gamma", "Complete", question="q2"), claim("delta", "Partial", question="q2")])
    out = tmp_path / "report.json"
    with LoopbackServer(scripted) as server:
        assert main(["--set", str(path), "--judge", "openai", "--override", f"judge.models.0.base_url={server.url}",
                     "--override", "judge.models.0.model=j", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    # Human: alpha 1, beta 0, gamma 1, delta 0. Judge: YES, NO, unreadable, YES. Readable pairs (1,1), (0,0), (0,1).
    assert (report["n"], report["readable"], report["validity"]) == (4, 3, 0.75)
    assert report["confusion"] == {"human_1_judge_1": 1, "human_1_judge_0": 0, "human_0_judge_1": 1, "human_0_judge_0": 1}
    assert report["accuracy"]["value"] == pytest.approx(2 / 3)
    assert report["balanced_accuracy"]["value"] == pytest.approx(0.75)  # recall of 1: 1/1, of 0: 1/2
    assert report["cohen_kappa"]["value"] == pytest.approx(0.4)  # (2/3 - 4/9) / (1 - 4/9)
    assert report["judge"]["rubric"] == "faithfulness" and report["human_positive_rate"] == 0.5


def test_a_subset_is_whole_groups_and_the_same_for_every_judge(tmp_path):
    path = tmp_path / "claims.jsonl"
    write(path, [claim(f"{q}-{c}", question=f"question {q}") for q in range(8) for c in range(3)])
    items = read_expertqa_claims(path)
    picked = subset(items, 7, seed=1)
    assert len(picked) == 9 and len({i.group for i in picked}) == 3  # groups of 3 until 7 is reached
    assert picked == subset(items, 7, seed=1) and subset(items, None, seed=1) == items
