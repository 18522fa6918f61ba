"""``ragsweep judge-eval`` end to end with a scripted judge behind the loopback OpenAI endpoint: every figure of
its report computed by hand from the replies."""

from __future__ import annotations

import json
import re

import pytest

from ragsweep.analysis.judge_eval import main, subset
from ragsweep.judges.calibration_sets import read_expertqa_claims
from tests.loopback_openai import LoopbackServer
from tests.test_calibration_sets import claim, write

REPLIES = {"alpha": '{"verdict": "YES"}', "beta": '{"verdict": "NO"}', "gamma": "maybe", "delta": '{"verdict": "YES"}'}


def scripted(body) -> str:
    prompt = body["messages"][-1]["content"]
    return next(reply for word, reply in REPLIES.items() if f"claim {word}" in prompt)


FOUR = [claim("alpha", "Complete", question="q1"), claim("beta", "Incomplete", question="q1"),
        claim("gamma", "Complete", question="q2"), claim("delta", "Partial", question="q2")]


def judged(tmp_path, rows, *args: str, reply=scripted) -> dict:
    """judge-eval's report on ``rows`` (ExpertQA claims) judged by ``reply`` behind the loopback server."""
    path, out = tmp_path / "claims.jsonl", tmp_path / "report.json"
    write(path, rows)
    with LoopbackServer(reply) as server:
        assert main(["--set", str(path), "--judge", "openai", "--override", f"judge.models.0.base_url={server.url}", "--out", str(out), *args]) == 0
    return json.loads(out.read_text())


def test_judge_eval_reports_validity_agreement_and_confusion(tmp_path, isolated_cache):
    report = judged(tmp_path, FOUR, "--override", "judge.models.0.model=j")
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


def test_graded_agreement_usage_context_and_figure_by_hand(tmp_path, isolated_cache):
    report = judged(tmp_path, FOUR, "--usd-per-mtok-in", "2", "--usd-per-mtok-out", "10")
    graded = report["graded"]
    # Grades (worst 0 .. best 2), readable items: human (2, 0, 1), judge YES -> 2, NO -> 0: (2, 0, 2).
    assert graded["levels"] == ["Incomplete", "Partial", "Complete"]
    assert graded["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    # Quadratic weights ((i-j)/2)^2: observed 0.25 (the Partial/Complete pair); expected sum_ij w h_i j_j / n = 1.25.
    assert graded["quadratic_kappa"]["value"] == pytest.approx(1 - 0.25 / 1.25)
    # Ordinal alpha: n_0=2, n_1=1, n_2=3; delta(1,2)=4, delta(0,1)=2.25, delta(0,2)=12.25; D_o=8/6, D_e=6.
    assert graded["krippendorff_alpha"]["value"] == pytest.approx(1 - (8 / 6) / 6)
    # Spearman: ranks (3, 1, 2) vs (2.5, 1, 2.5): cov 1.5, variances 2 and 1.5.
    assert graded["spearman"]["value"] == pytest.approx(1.5 / (2 * 1.5) ** 0.5)
    # Four calls, each 11 prompt and 3 completion tokens by the loopback server's usage block.
    assert {k: report["usage"][k] for k in ("prompt_tokens", "completion_tokens", "cost_usd")} == {
        "prompt_tokens": 44, "completion_tokens": 12, "cost_usd": pytest.approx((44 * 2 + 12 * 10) / 1e6)}
    assert report["context"] == {"passages_shown": 3, "items_with_passages_left_out": 0, "passages_given_mean": 1.0, "prompt_tokens_per_reply": 11.0}
    assert report["self_consistency"] is None and report["stalled"] == 0 and report["failed_calls"] == 0
    assert len(report["judge"]["judge_id"]) == 16 and report["judge"]["identity"]["rubric"] == "faithfulness"
    svg = (tmp_path / "report.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") == 9 and ">Partial</text>" in svg


def test_self_consistency_over_samples(tmp_path, isolated_cache):
    # alpha: YES, NO, YES over seeds 0..2 (vote YES, agreement 2/3); beta: NO every time (unanimous).
    table = {("alpha", 0): "YES", ("alpha", 1): "NO", ("alpha", 2): "YES"}
    reply = lambda body: '{"verdict": "%s"}' % table.get(("alpha" if "claim alpha" in body["messages"][-1]["content"] else "beta", body["seed"]), "NO")  # noqa: E731
    report = judged(tmp_path, [claim("alpha", "Complete", question="q1"), claim("beta", "Incomplete", question="q2")],
                    "--override", "judge.samples=3", "--override", "judge.models.0.temperature=0.8", "--override", "judge.models.0.seed=0", reply=reply)
    sc = report["self_consistency"]
    assert sc["samples"] == 3 and sc["mean_agreement"] == pytest.approx((2 / 3 + 1) / 2) and sc["unanimous_share"] == 0.5
    assert report["cohen_kappa"]["value"] == 1.0 and sc["first_sample_cohen_kappa"]["value"] == 1.0  # first samples: YES, NO
    assert report["usage"]["prompt_tokens"] == 6 * 11


def test_generic_set_with_annotators_and_a_scale(tmp_path, isolated_cache):
    path = tmp_path / "mine.jsonl"
    rows = [
        {"id": "a", "context": "p", "claim": "claim alpha", "labels": ["good", "good", "bad"]},  # majority: good
        {"id": "b", "context": ["p"], "claim": "claim beta", "labels": ["bad", "ok"]},  # a tie: the first annotator's
        {"id": "d", "context": "p", "claim": "claim delta", "label": "ok"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report.json"
    with LoopbackServer(scripted) as server:
        main(["--set", str(path), "--format", "generic", "--positive", "good", "--scale", "good,ok,bad", "--judge", "openai",
              "--override", f"judge.models.0.base_url={server.url}", "--out", str(out)])
    report = json.loads(out.read_text())
    # Human: good, bad, ok -> positive 1, 0, 0; judge YES, NO, YES.
    assert report["confusion"] == {"human_1_judge_1": 1, "human_1_judge_0": 0, "human_0_judge_1": 1, "human_0_judge_0": 1}
    assert report["graded"]["levels"] == ["bad", "ok", "good"] and report["graded"]["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]


def test_a_generic_set_needs_its_positive_label(tmp_path):
    from ragsweep.errors import ConfigError

    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "a", "context": "p", "claim": "c", "label": "good"}) + "\n")
    with pytest.raises(ConfigError, match="needs --positive"):
        main(["--set", str(path), "--format", "generic"])


def test_one_class_only_gives_undefined_kappa_not_a_number(tmp_path, isolated_cache):
    # Both YES, both Complete: p_e = 1, kappa undefined.
    report = judged(tmp_path, [claim("alpha", "Complete", question="q1"), claim("delta", "Complete", question="q2")])
    assert report["accuracy"]["value"] == 1.0 and report["cohen_kappa"] == {"value": None, "ci_low": None, "ci_high": None}


def test_all_invalid_verdicts_give_validity_zero_and_no_agreement(tmp_path, isolated_cache):
    report = judged(tmp_path, [claim("gamma", "Complete", question="q1")])
    assert (report["validity"], report["readable"]) == (0.0, 0)
    assert report["cohen_kappa"]["value"] is None and report["graded"]["quadratic_kappa"]["value"] is None


def test_the_confusion_figure_escapes_labels():
    from ragsweep.analysis.confusion_figure import confusion_svg

    svg = confusion_svg([[1, 0], [2, 3]], ["<script>x</script>", "b&c"], ["yes", "no"], 'title "<b>"')
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;c" in svg


def test_a_label_off_the_scale_is_one_line_not_dropped(tmp_path):
    from ragsweep.errors import DataError

    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "a", "context": "p", "claim": "c", "labels": ["good", "<b>meh</b>"]}) + "\n")
    with pytest.raises(DataError) as err:
        main(["--set", str(path), "--format", "generic", "--positive", "good", "--scale", "good,bad"])
    assert str(err.value) == f"{path}, record id 'a', field 'labels': label '<b>meh</b>' is not on --scale (good, bad)"


def test_ppi_simulation_on_a_set_with_a_scripted_judge(tmp_path, isolated_cache, capsys):
    """60 claims, a judge right on 4 of 5: the simulation's rows for the judge, the weight-free scorer and the
    synthetic judges, with PPI++ coverage near 95% and the table on stdout."""
    rows = [claim(f"c{i:02d}", "Complete" if i % 3 else "Incomplete", question=f"q{i // 2}") for i in range(60)]

    def mostly_right(body) -> str:
        number = int(body["messages"][-1]["content"].split("claim c", 1)[1][:2])
        right = (number % 3 != 0) if number % 5 else (number % 3 == 0)
        return '{"verdict": "YES"}' if right else '{"verdict": "NO"}'

    report = judged(tmp_path, rows, "--ppi-simulation", "--draws", "200", reply=mostly_right)
    sim = report["ppi_simulation"]
    assert sim["items"] == 60 and sim["human_mean"] == pytest.approx(40 / 60)
    scorers = {r["scorer"] for r in sim["rows"]}
    assert scorers == {"judge (judge_faithfulness)", "weight-free: claim tokens in its passages", "synthetic: label flipped at 0.1",
                       "synthetic: label flipped at 0.3", "synthetic: label flipped at 0.5"}
    assert {r["n"] for r in sim["rows"]} == {25, 50}  # 100 and 200 exceed the set
    judge_rows = [r for r in sim["rows"] if r["scorer"].startswith("judge")]
    assert all(r["coverage_ppi"] >= 0.85 and r["width_ratio"] < 1.0 for r in judge_rows)
    assert "| judge (judge_faithfulness) | 25 |" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (("--positive", "Good"), r"--positive 'Good' matches no label of the set \(its labels: bad, good\)"),
    (("--positive", "good", "--scale", "good,bad,good"), r"--scale names a level twice"),
    (("--positive", "good", "--limit", "0"), r"--limit must be a whole number >= 1, not 0"),
    (("--positive", "good", "--limit", "-3"), r"--limit must be a whole number >= 1"),
    (("--positive", "good", "--usd-per-mtok-in", "-1"), r"are prices: 0 or more"),
    (("--positive", "good", "--rubric", "correctness"), r"rubric 'correctness' compares answers with a reference answer, and no item"),
])
def test_generic_set_faults_are_one_line_before_any_verdict(tmp_path, args, message):
    from ragsweep.errors import ConfigError

    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps({"id": i, "context": "p", "claim": "c", "label": lab}) + "\n" for i, lab in (("a", "good"), ("b", "bad"))))
    with pytest.raises(ConfigError, match=message):
        main(["--set", str(path), "--format", "generic", *args])


def test_reference_answers_let_correctness_be_calibrated_and_booleans_are_labels(tmp_path, isolated_cache, capsys):
    """A generic set with reference answers and boolean labels: the correctness rubric judges every item (it
    skipped all of them without references), and the result table is on stdout."""
    path, out = tmp_path / "mine.jsonl", tmp_path / "report.json"
    rows = [{"id": "a", "question": "Capital?", "context": "p", "answer": "claim alpha", "reference": ["Paris", "paris"], "label": True},
            {"id": "b", "question": "River?", "context": "p", "answer": "claim beta", "reference": "the Seine", "label": False}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = []

    def grader(body) -> str:
        prompt = body["messages"][-1]["content"]
        seen.append(prompt)
        return '{"score": 5}' if "claim alpha" in prompt else '{"score": 1}'

    with LoopbackServer(grader) as server:
        assert main(["--set", str(path), "--format", "generic", "--positive", "true", "--rubric", "correctness", "--judge", "openai",
                     "--override", f"judge.models.0.base_url={server.url}", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["readable"] == 2 and report["accuracy"]["value"] == 1.0
    assert any("Paris | paris" in p for p in seen) and any("the Seine" in p for p in seen)  # the references reach the prompt
    table = capsys.readouterr().out
    assert re.search(r"items +2 \(2 readable, validity 1.000\)", table) and re.search(r"accuracy +1.000 \[1.000, 1.000\]", table)


def test_the_judge_card_gathers_every_report_of_a_judge(tmp_path, isolated_cache, capsys):
    from ragsweep.analysis.judge_card import main as judge_card

    results = tmp_path / "results"
    (results / "judge_eval").mkdir(parents=True)
    report = judged(tmp_path, FOUR, "--override", "judge.models.0.model=j")
    (results / "judge_eval" / "four.json").write_text(json.dumps(report))
    (results / "pairwise").mkdir()
    (results / "pairwise" / "a__vs__b.json").write_text(json.dumps({"judge_model": {"model": "j"}, "queries": 12, "position_consistency": 0.75}))
    assert judge_card(["--results", str(results)]) == 0
    card = capsys.readouterr().out
    judge_id = report["judge"]["judge_id"]
    assert f"judge {judge_id}: rubric faithfulness by j" in card
    # readable (1,1), (0,0), (0,1): people said yes 2 of 4 items, the judge yes on 2 of 3 it could read
    assert "| claims.jsonl | 4 | 0.75 | 0.500 | 0.667 | 0.667 [" in card
    assert "position consistency (pairwise, the same verdict with the answers swapped): 0.750 over 12 queries" in card
    from ragsweep.errors import ConfigError

    with pytest.raises(ConfigError, match="no judge-eval report for judge 'nope'"):
        judge_card(["--results", str(results), "--judge", "nope"])


def test_verdicts_are_kept_and_reused_without_judging_again(tmp_path, isolated_cache):
    from ragsweep.errors import DataError

    first = judged(tmp_path, FOUR, "--override", "judge.models.0.model=j")
    assert len(first["verdicts"]) == 4 and first["verdicts"][0]["raw"]  # every raw reply kept
    again = tmp_path / "again.json"
    args = ["--set", str(tmp_path / "claims.jsonl"), "--judge", "openai", "--override", "judge.models.0.model=j",
            "--override", "judge.models.0.base_url=http://127.0.0.1:9/v1", "--out", str(again)]  # nothing listens there
    assert main([*args, "--reuse-verdicts", str(tmp_path / "report.json")]) == 0
    reused = json.loads(again.read_text())
    assert reused["cohen_kappa"] == first["cohen_kappa"] and reused["reused_verdicts_from"] == str(tmp_path / "report.json")
    other = dict(first, judge={**first["judge"], "judge_id": "someone-else"})
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(DataError, match="is a report of judge 'someone-else'"):
        main([*args, "--reuse-verdicts", str(tmp_path / "other.json")])
