"""Every judged column names its judge and shows that judge's measured calibration, in metrics.json and on the
leaderboard; a judge that judge-eval never measured is marked uncalibrated, never shown as if it were."""

from __future__ import annotations

import json

from ragsweep.analysis.judge_eval import main as judge_eval
from ragsweep.analysis.leaderboard import load_runs
from ragsweep.analysis.report import render
from ragsweep.analysis.report_html import render_html
from ragsweep.judges.calibration import calibration_reports, calibration_text, find_calibration
from tests.helpers import run
from tests.loopback_openai import LoopbackServer
from tests.test_calibration_sets import claim, write


SHOWN = ("doc_recall@5", "judge_faithfulness")


def yes(body) -> str:
    return '{"verdict": "YES"}' if "claim beta" not in body["messages"][-1]["content"] else '{"verdict": "NO"}'


def test_judged_columns_carry_their_judge_and_calibration(tmp_path, isolated_cache):
    with LoopbackServer(yes) as server:
        judge = ["judge=openai", f"judge.models.0.base_url={server.url}", "judge.rubrics=[faithfulness]"]
        run_dir, _ = run(tmp_path, "generator=extractive", "sweep_name=s", *judge)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        entry = metrics["judges"]["judge_faithfulness"]
        assert entry["rubric"] == "faithfulness" and entry["models"] == ["default"] and entry["calibration"] is None
        assert entry["calibrated"] is False and entry["context_chunks"] == 3
        board = render(load_runs(tmp_path / "runs"), columns=SHOWN)
        assert "judge_faithfulness (uncalibrated)" in board and f"(judge {entry['judge_id']}): uncalibrated" in board

        # Calibrate the same judge (another server address and seed: neither is part of its identity).
        path = tmp_path / "claims.jsonl"
        write(path, [claim("alpha", "Complete", question="q1"), claim("beta", "Incomplete", question="q1"),
                     claim("gamma", "Partial", question="q2"), claim("delta", "Complete", question="q3")])
        with LoopbackServer(yes) as other:
            judge_eval(["--set", str(path), "--judge", "openai", "--override", f"judge.models.0.base_url={other.url}",
                        "--override", "judge.models.0.seed=7", "--out", str(tmp_path / "judge_eval" / "claims.json")])
    report = json.loads((tmp_path / "judge_eval" / "claims.json").read_text())
    assert report["judge"]["judge_id"] == entry["judge_id"]
    found = find_calibration(entry["judge_id"], calibration_reports(tmp_path / "runs"))
    # Graded labels: the shown statistic is Krippendorff's ordinal alpha, with its interval.
    assert found["statistic"] == "krippendorff_alpha" and found["value"] == report["graded"]["krippendorff_alpha"]["value"]
    runs = load_runs(tmp_path / "runs")
    board, page = render(runs, columns=SHOWN), render_html(runs, columns=SHOWN)
    assert f"judge_faithfulness (alpha {found['value']:.2f})" in board and calibration_text(found) in board
    assert calibration_text(found) in page and "uncalibrated" not in board


def test_a_different_prompt_is_a_different_judge(tmp_path, isolated_cache):
    from ragsweep.judges.llm import LLMJudge
    from tests.test_judge import RUBRIC_DEFS

    model = [{"backend": "openai", "model": "j", "base_url": "http://127.0.0.1:1/v1", "seed": 1}]
    base = LLMJudge(models=model, rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS)
    served_elsewhere = LLMJudge(models=[{**model[0], "base_url": "http://127.0.0.1:2/v1", "seed": 2}], rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS)
    edited = {**RUBRIC_DEFS, "faithfulness": {**RUBRIC_DEFS["faithfulness"], "prompt": {**RUBRIC_DEFS["faithfulness"]["prompt"], "system": "Be strict."}}}
    assert base.judge_id("faithfulness") == served_elsewhere.judge_id("faithfulness")
    assert base.judge_id("faithfulness") != LLMJudge(models=model, rubrics=["faithfulness"], rubric_defs=edited).judge_id("faithfulness")
    assert base.judge_id("faithfulness") != LLMJudge(models=model, rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS, context_k=5).judge_id("faithfulness")


def test_a_damaged_calibration_report_is_skipped_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "judge_eval"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")
    (folder / "nojudge.json").write_text("{}")
    (folder / "badgraded.json").write_text(json.dumps({"judge": {"judge_id": "x"}, "graded": "<b>alpha</b>"}))
    (folder / "nostat.json").write_text(json.dumps({"judge": {"judge_id": "x"}, "graded": None}))
    (folder / "textvalue.json").write_text(json.dumps({"judge": {"judge_id": "x"}, "cohen_kappa": {"value": "<script>", "ci_low": 0, "ci_high": 1}}))
    assert calibration_reports(tmp_path / "runs") == {} and caplog.text.count("skipping unreadable judge calibration") == 5
    assert calibration_reports(tmp_path / "missing" / "runs") == {}


def test_ragas_columns_without_a_judge_id_are_uncalibrated():
    from ragsweep.analysis.leaderboard import column_label

    runs = [{"metrics": {"metrics": {"ragas_faithfulness": {"mean": 0.5}}}, "judges": {}}]
    assert column_label(runs, "ragas_faithfulness") == "ragas_faithfulness (uncalibrated)"
    assert column_label(runs, "span_iou@5") == "span_iou@5"
