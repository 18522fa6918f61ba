"""The regression gate: passes on unchanged runs, fails on a planted drop (saying whether it is
significant), fails on a missing run, and the baseline is rewritten only on purpose."""

from __future__ import annotations

import json
import logging

import pytest

from ragsweep.analysis.gate import Check, main
from tests.helpers import run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate")
    for task in ("span_mini", "multihop_mini"):
        run(tmp, f"task={task}", "retriever=bm25", "sweep_name=ci")
    baseline = tmp / "baseline.json"
    assert main(["--runs", str(tmp / "runs"), "--baseline", str(baseline), "--write"]) == 0
    return tmp, baseline


def _gate(tmp, baseline, caplog):
    caplog.clear()
    caplog.set_level(logging.INFO)
    code = main(["--runs", str(tmp / "runs"), "--baseline", str(baseline)])
    return code, caplog.text


def test_gate_passes_on_the_runs_it_was_written_from(runs, caplog):
    tmp, baseline = runs
    data = json.loads(baseline.read_text())
    assert len(data["runs"]) == 2
    span = next(v for k, v in data["runs"].items() if k.startswith("span_mini"))
    assert "span_iou@5" in span["metrics"] and len(span["per_query"]["span_iou@5"]) == 14
    code, text = _gate(tmp, baseline, caplog)
    assert code == 0 and "gate passed" in text


def test_planted_regression_fails_and_says_if_significant(runs, tmp_path, caplog):
    tmp, baseline = runs
    data = json.loads(baseline.read_text())
    key = next(k for k in data["runs"] if k.startswith("span_mini"))
    planted = data["runs"][key]
    # The baseline claims recall was higher on every query: the current runs now "dropped" significantly.
    planted["metrics"]["span_recall@5"] += 0.2
    planted["per_query"]["span_recall@5"] = {q: v + 0.2 for q, v in planted["per_query"]["span_recall@5"].items()}
    # A smaller claimed gain on a few queries only: a drop above tolerance but not significant.
    per_query = planted["per_query"]["precision_omega"]
    first = sorted(per_query)[:1]
    planted["metrics"]["precision_omega"] += 0.5 / len(per_query)
    for q in first:
        per_query[q] += 0.5
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(data))
    code, text = _gate(tmp, path, caplog)
    assert code == 1 and "gate FAILED" in text
    assert "span_recall@5" in text and "DROP, significant" in text
    assert "precision_omega" in text and "DROP, not significant" in text


def test_missing_run_fails(runs, tmp_path, caplog):
    tmp, baseline = runs
    data = json.loads(baseline.read_text())
    data["runs"]["thai_legal_mini__fixed_tokens__bm25__none__extractive__none"] = {"metrics": {"doc_recall@5": 0.5}, "per_query": {"doc_recall@5": {}}, "data_identity": "d0"}
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(data))
    code, text = _gate(tmp, path, caplog)
    assert code == 1 and "MISSING" in text


def test_lower_is_better_metrics_drop_upwards():
    assert Check("r", "judge_contradiction", 0.1, 0.3, 0.01, None, lower_is_better=True).failed
    assert not Check("r", "judge_contradiction", 0.3, 0.1, 0.01, None, lower_is_better=True).failed
    assert not Check("r", "judge_contradiction", 0.1, 0.3, 0.01, None).failed  # without the flag a rise is a gain
    assert Check("r", "answer_f1", 0.5, 0.48, 0.01, None).failed and not Check("r", "answer_f1", 0.5, 0.495, 0.01, None).failed


def test_a_missing_baseline_names_the_command_that_writes_one(tmp_path, caplog):
    import logging

    from ragsweep.analysis.gate import main as gate_main

    from tests.helpers import run

    run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none", "sweep_name=ci")
    with caplog.at_level(logging.ERROR):
        code = gate_main(["--sweep", "ci", "--runs", str(tmp_path / "runs"), "--baseline", str(tmp_path / "none.json")])
    assert code == 2 and "ragsweep gate --sweep ci --write" in caplog.text
