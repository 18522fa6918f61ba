"""Faults on the newest surfaces (issue 33): each case failed on the main before it (a silent wrong number, a
traceback or a misleading message) and is the right number or one line now. Sections: the gate's latest runs,
missing answers, metric plugin contracts, rubrics, qrels and outputs files, nugget scores, TREC export, commands
that must not print a traceback, and messages that must name the right setting."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pandas as pd
import pytest

from ragsweep.errors import ConfigError, ContractError, DataError
from tests.helpers import run
from tests.test_faults import _fake_run
from tests.test_outputs import hand_suite


# ---------------------------------------------------------------- the gate judges the latest invocation


def _gate(runs: Path, baseline: Path, caplog, *extra: str) -> tuple[int, str]:
    import logging

    from ragsweep.analysis.gate import main

    caplog.clear()
    caplog.set_level(logging.INFO)
    return main(["--runs", str(runs), "--baseline", str(baseline), *extra]), caplog.text


def test_the_gate_judges_the_latest_sweep_not_older_runs_of_matching_names(tmp_path, caplog):
    from ragsweep.store.run_folder import record_latest

    runs, baseline = tmp_path / "runs", tmp_path / "baseline.json"
    old = _fake_run(runs, "ci", "span_mini__fixed__bm25__aaaa1111", values=[0.5] * 14)
    record_latest(runs / "ci", [old])
    assert _gate(runs, baseline, caplog, "--write")[0] == 0
    assert _gate(runs, baseline, caplog)[0] == 0
    # `ragsweep sweep ci chunker.size=32`: a renamed run with a lower score; the old folder stays on disk
    new = _fake_run(runs, "ci", "span_mini__fixed__bm25__chunker.size=32__bbbb2222", values=[0.3] * 14)
    record_latest(runs / "ci", [new])
    code, text = _gate(runs, baseline, caplog)
    assert code == 1 and "gate FAILED" in text
    assert "NOT IN BASELINE" in text and "span_mini__fixed__bm25__chunker.size=32" in text  # the new run is named
    assert "MISSING" in text  # the baseline's run is not in the latest sweep: never judged on the old folder
    code, text = _gate(runs, baseline, caplog, "--allow-new")
    assert code == 1 and "NOT IN BASELINE (allowed)" in text  # allowed, but the baseline's run is still missing
    # a latest sweep whose every job failed leaves a record with no runs: the gate fails, not the old runs pass
    record_latest(runs / "ci", [], failed=2)
    code, text = _gate(runs, baseline, caplog)
    assert code == 1 and "2 job(s) of the latest sweep failed" in text
    record_latest(runs / "ci", [old])
    assert _gate(runs, baseline, caplog)[0] == 0
    (runs / ".latest" / "ci.json").write_text('{"runs": ["../../etc"]}')
    code, text = _gate(runs, baseline, caplog)
    assert code == 2 and "ci.json, field 'runs': not a list of run folder names" in text


@pytest.mark.process
def test_a_sweep_and_its_up_to_date_rerun_record_their_runs(tmp_path):
    """Through the command: the sweep records what it wrote; an up-to-date rerun records the same runs again."""
    import os
    import subprocess

    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path / "results")}
    command = [sys.executable, "-m", "ragsweep", "-q", "sweep", "ci", "task=span_mini", "retriever=bm25"]
    for _ in range(2):
        out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        record = json.loads((tmp_path / "results" / "runs" / ".latest" / "ci.json").read_text())
        assert len(record["runs"]) == 1 and record["runs"][0].startswith("span_mini__fixed_tokens__bm25") and record["failed_jobs"] == 0


# ---------------------------------------------------------------- a missing answer never leaves a denominator


def test_a_question_another_system_did_not_answer_scores_zero_and_is_counted(tmp_path):
    suite = hand_suite(tmp_path)
    outputs = tmp_path / "sys.jsonl"
    outputs.write_text("".join(json.dumps({"query_id": q, "passages": [{"doc_id": d, "start": 0, "end": 5}], "answer": a}) + "\n"
                               for q, d, a in (("q1", "A", "Paris"), ("q2", "B", "the Seine"))))
    run_dir, info = run(tmp_path, "task=generic", f"task.path={suite}", f"outputs.path={outputs}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    # q1 and q2 answered exactly; q3 not at all: answer_f1 and answer_em (1 + 1 + 0) / 3, as doc_recall counts q3
    assert metrics["metrics"]["answer_f1"]["mean"] == pytest.approx(2 / 3) and metrics["metrics"]["answer_f1"]["n"] == 3
    assert metrics["metrics"]["answer_em"]["mean"] == pytest.approx(2 / 3)
    assert metrics["metrics"]["doc_recall@5"]["n"] == 3
    assert records.loc["q3", "answer_f1"] == 0.0 and bool(records.loc["q3", "answer_missing"])
    assert metrics["summary"]["answers_missing"] == 1 and metrics["summary"]["generation_errors"] == 0
    # the documented switch: answered questions only, the unanswered one counted as unscored
    run_dir, info = run(tmp_path, "task=generic", f"task.path={suite}", f"outputs.path={outputs}", "outputs.missing_answers=exclude")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["answer_f1"]["mean"] == 1.0 and metrics["metrics"]["answer_f1"]["n"] == 2
    assert info["unscored_queries"]["answer_f1"] == 1 and metrics["summary"]["answers_missing"] == 1
    with pytest.raises(ConfigError, match="outputs.missing_answers must be one of zero, exclude, not 'skip'"):
        run(tmp_path, "task=generic", f"task.path={suite}", f"outputs.path={outputs}", "outputs.missing_answers=skip")


JUDGE_BACKEND = '''
from ragsweep.llm.base import ChatBackend, Completion


class AlwaysYes(ChatBackend):
    def complete(self, conversations, json_schema=None, desc="llm", max_tokens=None):
        return [Completion('{"verdict": "YES"}', 5, 3) for _ in conversations]
'''


def test_a_missing_answer_scores_the_worst_judged_value(tmp_path, monkeypatch):
    """A judge that says YES to everything: the unanswered question is not judged and scores 0, not left out."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "yes_judge.py").write_text(JUDGE_BACKEND)
    suite, outputs = hand_suite(tmp_path), tmp_path / "sys.jsonl"
    outputs.write_text(json.dumps({"query_id": "q1", "passages": [{"doc_id": "A", "start": 0, "end": 31}], "answer": "Paris"}) + "\n")
    run_dir, _ = run(tmp_path, "task=generic", f"task.path={suite}", f"outputs.path={outputs}", "judge=llm", "judge.rubrics=[relevance]",
                     "judge.models=[{backend: yes_judge.AlwaysYes, model: y}]")
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    assert records["judge_relevance"].tolist() == [1.0, 0.0, 0.0]
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]["judge_relevance"]["n"] == 3


# ---------------------------------------------------------------- metric plugins are held to a contract


PLUGIN = '''
import math

from ragsweep.scoring.base import Metric


class SomeNaN(Metric):
    def columns(self, view):
        return {"my_score": math.nan if view.query.query_id == "q2" else 1.0}


class Clash(Metric):
    def columns(self, view):
        return {"doc_recall@5": 0.0}


class Reserved(Metric):
    def columns(self, view):
        return {"query_id": "zz"}


class Raises(Metric):
    def columns(self, view):
        raise RuntimeError("boom")


class ReturnsNone(Metric):
    def columns(self, view):
        return None


class Fine(Metric):
    def columns(self, view):
        return {"my_score": 0.5}
'''


@pytest.mark.parametrize("cls, message", [
    ("SomeNaN", r"metric my_metrics.SomeNaN: query 'q2': column 'my_score' is nan: leave the column out for a query the metric cannot score"),
    ("Clash", r"metric my_metrics.Clash: query 'q1': column 'doc_recall@5' is already written by metric ragsweep.scoring.doc.DocRetrieval"),
    ("Reserved", r"metric my_metrics.Reserved: query 'q1': column 'query_id' is already written by the record itself \(a reserved column\)"),
    ("Raises", r"metric my_metrics.Raises: query 'q1': columns\(\) raised RuntimeError: boom"),
    ("ReturnsNone", r"metric my_metrics.ReturnsNone: query 'q1': columns\(\) returned NoneType, not a mapping"),
])
def test_a_plugin_metric_that_breaks_the_contract_is_one_line(tmp_path, monkeypatch, cls, message):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_metrics.py").write_text(PLUGIN)
    suite = hand_suite(tmp_path)
    with pytest.raises(ContractError, match=message):
        run(tmp_path, "task=generic", f"task.path={suite}", f"+scoring.metrics.mine._target_=my_metrics.{cls}")


def test_two_plugins_writing_one_column_and_no_metric_at_all_are_refused(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_metrics.py").write_text(PLUGIN)
    suite = hand_suite(tmp_path)
    with pytest.raises(ContractError, match=r"column 'my_score' is already written by metric my_metrics.Fine"):
        run(tmp_path, "task=generic", f"task.path={suite}", "+scoring.metrics.a._target_=my_metrics.Fine", "+scoring.metrics.b._target_=my_metrics.SomeNaN")
    off = [f"scoring.metrics.{k}=null" for k in ("doc", "span", "keywords", "sections", "citations", "answers", "judged", "trec", "selection")]
    with pytest.raises(ConfigError, match=r"every metric family is switched off"):
        run(tmp_path, "task=generic", f"task.path={suite}", *off)


# ---------------------------------------------------------------- rubrics


def _rubric(column: str = "judge_x", user: str = "Q: {question} A: {answer}") -> dict:
    return {"columns": {column: {"reader": "yes_no"}}, "prompt": {"system": "s", "user": user}}


def test_two_rubrics_writing_one_column_are_refused_before_any_work():
    from ragsweep.judges.llm import LLMJudge

    models = [{"backend": "hf", "model": "m"}]
    with pytest.raises(ConfigError, match=r"judge rubrics 'a' and 'b' both write the record column 'judge_x'"):
        LLMJudge(models, ["a", "b"], {"a": _rubric(), "b": _rubric()})
    LLMJudge(models, ["a", "b"], {"a": _rubric(), "b": _rubric("judge_y")})  # apart: fine


@pytest.mark.parametrize("user, message", [
    ("Q: {question} A: {answr}", r"judge rubric 'a', prompt.user: unknown placeholder \{answr\}; it may use \{answer\}, \{context\}, \{question\}, \{reference\}"),
    ("Q: {question", r"judge rubric 'a', prompt.user: the template does not parse"),
    ("{0}", r"unknown placeholder \{0\}"),
])
def test_a_rubric_template_is_checked_when_the_judge_is_built(user, message):
    from ragsweep.judges.llm import LLMJudge

    with pytest.raises(ConfigError, match=message):
        LLMJudge([{"backend": "hf", "model": "m"}], ["a"], {"a": _rubric(user=user)})


def test_a_rubric_yaml_that_does_not_parse_is_one_line(tmp_path, capsys):
    from ragsweep.commands.cli import main

    conf = tmp_path / "conf" / "judge" / "rubric"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text("columns:\n  judge_mine: {reader: yes_no\nprompt: [\n")
    assert main(["run", "--config-dir", str(tmp_path / "conf"), "task=span_mini"]) == 2
    err = capsys.readouterr().err
    assert f"{conf / 'mine.yaml'}, line 3, column 7: not valid YAML (expected ',' or '}}'" in err and "Traceback" not in err


# ---------------------------------------------------------------- qrels and outputs files


def test_an_empty_qrels_file_is_an_error_not_the_suites_own_gold(tmp_path):
    suite = hand_suite(tmp_path)
    empty = tmp_path / "empty.qrels"
    empty.write_text("\n  \n")
    with pytest.raises(DataError, match=r"empty.qrels: no labels in the file"):
        run(tmp_path, "task=generic", f"task.path={suite}", f"+task.qrels={empty}")


def test_outputs_text_must_agree_with_its_offsets_and_the_format_is_decided_by_content(tmp_path, caplog):
    import logging

    from ragsweep.external.readers import read_outputs
    from tests.test_outputs import SUITE_DOCS, SUITE_QUERIES

    path = tmp_path / "o.jsonl"
    path.write_text('{"query_id": "q1", "passages": [{"doc_id": "A", "start": 0, "end": 5, "text": "Berlin"}]}\n')
    with pytest.raises(DataError, match=r"record line 1, field 'passages\[0\].text': the passage's text 'Berlin' is not what its offsets \[0, 5\) of 'A' hold \('Paris'\)"):
        read_outputs(path, "auto", SUITE_QUERIES, SUITE_DOCS)
    path.write_text('{"query_id": "q1", "passages": [{"doc_id": "A", "start": 0, "end": 9, "text": "Paris  is"}]}\n')
    assert read_outputs(path, "auto", SUITE_QUERIES, SUITE_DOCS)[0].passages[0].end == 9  # whitespace aside, the same text
    path.write_text("query_id,passage\nq1,Paris\n")  # CSV in a .jsonl file: not read as a TREC run
    with pytest.raises(DataError, match=r"not ragsweep JSONL or ragas records \(the first line is not JSON\) and not a TREC run \(a TREC run line has 6 fields, this one 1\)"):
        read_outputs(path, "auto", SUITE_QUERIES, SUITE_DOCS)
    listed = tmp_path / "list.json"  # a JSON list of ragsweep records: ragsweep's format, not ragas
    listed.write_text(json.dumps([{"query_id": "q1", "passages": [{"text": "Paris"}], "answer": "Paris"}]))
    caplog.set_level(logging.INFO, logger="ragsweep")  # the package's logger, whatever level a command before left it at
    assert [o.answer for o in read_outputs(listed, "auto", SUITE_QUERIES, SUITE_DOCS)] == ["Paris"]
    assert "read as jsonl: its first record has query_id or passages" in caplog.text
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"qid": "q1"}]))
    with pytest.raises(DataError, match=r"neither a ragsweep record \(query_id, passages\) nor a ragas record"):
        read_outputs(other, "auto", SUITE_QUERIES, SUITE_DOCS)


# ---------------------------------------------------------------- judged columns and nugget scores


def test_judge_invariance_refuses_a_column_no_judge_wrote(tmp_path):
    from ragsweep.analysis.judge_invariance import invariance

    a = {"path": tmp_path / "a", "metrics": {"judges": {}}}
    b = {"path": tmp_path / "b", "metrics": {"judges": {"judge_faithfulness": {}}}}
    with pytest.raises(ConfigError, match=r"--metric 'doc_recall@5' is not a judged column of run a \(its judged columns: none\)"):
        invariance([(a, b), (a, b)], "doc_recall@5", 0)


def test_nugget_scores_count_unscorable_queries_as_the_reference_does_under_its_switch():
    from ragsweep.metrics.trec import nugget_scores

    # no vital nugget: defined scores leave vital out (counted unscored); AutoNuggetizer's scorer gives 0.0
    assert nugget_scores(["okay"], ["support"])["vital_strict"] is None
    ref = nugget_scores(["okay"], ["support"], reference=True)
    assert ref["vital_strict"] == 0.0 and ref["all_strict"] == 1.0
    # a failed assignment: never scored by default; the reference counts it as not supported
    assert set(nugget_scores(["vital", "vital"], ["support", None]).values()) == {None}
    ref = nugget_scores(["vital", "vital"], ["support", None], reference=True)
    assert ref["vital_strict"] == 0.5 and ref["all_partial"] == 0.5
    # no nugget at all: the reference's 0.0 everywhere
    assert set(nugget_scores([], [], reference=True).values()) == {0.0}
    # labels compared case-insensitively, as the reference lowercases them
    assert nugget_scores(["Vital", "OKAY"], ["SUPPORT", "Partial_Support"]) == nugget_scores(["vital", "okay"], ["support", "partial_support"])
    # a run's mean over 3 queries (one with no vital nugget): defined 1.0 over 2, the reference's 2/3 over 3
    queries = [(["vital"], ["support"]), (["okay"], ["support"]), (["vital", "okay"], ["support", "not_support"])]
    defined = [s for i, a in queries if (s := nugget_scores(i, a)["vital_strict"]) is not None]
    reference = [nugget_scores(i, a, reference=True)["vital_strict"] for i, a in queries]
    assert (sum(defined) / len(defined), len(defined)) == (1.0, 2) and (sum(reference) / len(reference), len(reference)) == (2 / 3, 3)


def test_nugget_readers_take_labels_in_any_case():
    from ragsweep.assessors.nuggets import read_assignment, read_importance

    assert read_importance('{"importance": "Vital"}') == "vital" and read_importance("OKAY") == "okay"
    assert read_assignment('{"label": "SUPPORT"}') == "support" and read_assignment(" Partial_Support ") == "partial_support"


def test_gold_decided_chunks_without_the_gold_check_are_not_a_keyerror(tmp_path):
    from tests.test_trec import SCRIPTED, _suite

    folder = _suite(tmp_path)
    run_dir, info = run(tmp_path, "task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "assessor.check_against_gold=false", "eval_k=[4]")
    r = pd.read_parquet(run_dir / "records.parquet").iloc[0]
    assert json.loads(r["assessment_labels"])["d_a#0"] == [3, "gold"]
    assert info["assessment"]["relevance"]["asked"] == 3  # the gold-decided chunk is not asked


def test_the_reference_nugget_switch_reaches_the_records(tmp_path):
    from tests.test_trec import SCRIPTED, _suite

    folder = _suite(tmp_path)
    run_dir, _ = run(tmp_path, "task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "nugget_reference_compat=true")
    r = pd.read_parquet(run_dir / "records.parquet").iloc[0]
    assert r["nugget_vital_strict"] in (0.0, 1.0) and r["nugget_weighted"] in (0.0, 0.5, 1.0)


# ---------------------------------------------------------------- TREC export files read back as written


def test_trec_export_names_and_doc_level_qrels_read_back(tmp_path):
    from ragsweep.analysis.trec_export import doc_labels, file_stem, main as trec_export
    from ragsweep.store.trec_files import read_qrels
    from tests.test_trec import SCRIPTED, _suite

    assert file_stem("span_mini__fixed__bm25__chunker.size=32__ab12") == "span_mini__fixed__bm25__chunker.size_32__ab12"
    assert doc_labels({"d_a#0-25": 3, "d_a#1": 1, "d_b#4-9": 0, "x#y#0-3": 2}) == {"d_a": 3, "d_b": 0, "x#y": 2}
    folder = _suite(tmp_path)
    import shutil

    written, _ = run(tmp_path, "task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "eval_k=[4]")
    run_dir = written.parent / "generic__fixed_tokens__chunker.size=32__ab12"  # as `ragsweep run chunker.size=32` names it
    shutil.copytree(written, run_dir)
    out = tmp_path / "trec"
    assert trec_export([str(run_dir), "--out", str(out), "--level", "doc"]) == 0
    qrels = next(out.glob("*.qrels"))
    assert "=" not in qrels.name and read_qrels(qrels) == {"q1": {"d_a": 3, "d_b": 2, "d_c": 1, "d_d": 0}}
    again, _ = run(tmp_path, "task=generic", f"task.path={folder}", f"+task.qrels={qrels}", "eval_k=[4]")  # re-imports as written
    assert list(pd.read_parquet(again / "records.parquet").iloc[0]["gold_doc_ids"]) == ["d_a", "d_b", "d_c"]
    with pytest.raises(ConfigError, match=r"--tag must be one word without spaces or '%'"):
        trec_export([str(run_dir), "--tag", "my tag"])


# ---------------------------------------------------------------- commands: one line, no traceback


def _cli(capsys, *argv: str) -> tuple[int, str]:
    from ragsweep.commands.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("argv, needle", [
    (("judge-eval", "--set", "x.jsonl", "--judge", "llmm"), "--judge / --override: unknown judge 'llmm': did you mean 'llm'?"),
    (("judge-eval", "--set", "x.jsonl", "--override", "judge.samples=["), "ragsweep judge-eval: "),
    (("check", "task=nosuch"), "unknown task 'nosuch'"),
    (("check", "+sweep=nosuch"), "unknown sweep 'nosuch'"),
    (("check", "chunker.sise=300"), "unknown chunker parameter 'sise' in 'chunker.sise=300': did you mean 'size'?"),
])
def test_commands_refuse_bad_arguments_in_one_line(capsys, tmp_path, argv, needle):
    code, err = _cli(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("argv, needle", [
    (("bench", "spans", "--repeats", "0"), "argument --repeats: expected a whole number >= 1, got 0"),
    (("bench", "spans", "--repeats", "-1"), "argument --repeats: expected a whole number >= 1, got -1"),
    (("bench", "scale", "--sizes", "abc"), "argument --sizes: expected a whole number >= 1, got 'abc' in 'abc'"),
    (("bench", "scale", "--sizes", "1000,0"), "argument --sizes: expected a whole number >= 1, got 0 in '1000,0'"),
])
def test_bench_arguments_are_checked_before_any_work(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_:
        _cli(capsys, *argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and needle in err and "Traceback" not in err


def test_a_bench_that_refuses_its_input_says_so_in_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    code, err = _cli(capsys, "bench", "labelling", "--sweep", "nosuch", "--out", str(tmp_path / "l.json"))
    assert code == 2 and err.startswith("ragsweep bench labelling: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bench_out_into_an_unwritable_place_names_out(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        _cli(capsys, "bench", "spans", "--out", str(blocker / "sub" / "spans.json"))
    err = capsys.readouterr().err
    assert "argument --out: cannot write to" in err and "point --out at a writable folder" in err and "cache_dir" not in err


def test_config_files_that_do_not_parse_are_one_line_naming_file_and_line(tmp_path, monkeypatch, capsys):
    import shutil

    from ragsweep.engine import config_names
    from ragsweep.paths import CONFIG_DIR

    copy = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, copy)
    monkeypatch.setattr(config_names, "CONFIG_DIR", copy)
    (copy / "chunker" / "broken.yaml").write_text("name: fixed_tokens\nsize: [1, 2\n")
    for argv in (("list",), ("list", "task"), ("list", "chunker"), ("run", "task=span_mini")):
        code, err = _cli(capsys, *argv)
        assert code == 2 and f"{copy / 'chunker' / 'broken.yaml'}, line 3, column 1: not valid YAML" in err, (argv, err)
    (copy / "chunker" / "broken.yaml").write_bytes(b"# caf\xe9\nname: fixed_tokens\n")
    code, err = _cli(capsys, "list")
    assert code == 2 and f"{copy / 'chunker' / 'broken.yaml'}, line 1: not UTF-8 (byte 0xe9)" in err


# ---------------------------------------------------------------- messages that name the right setting


def test_component_parameters_are_checked_with_a_did_you_mean(tmp_path):
    suite = hand_suite(tmp_path)
    with pytest.raises(ConfigError, match=r"chunker 'fixed_tokens': unknown parameter 'sise': did you mean 'size'\? \(its parameters: size"):
        run(tmp_path, "task=generic", f"task.path={suite}", "+chunker.sise=300")
    from ragsweep.llm.base import build_backend

    with pytest.raises(ConfigError, match=r"llm backend 'hf': unknown parameter 'engine_kwargs': \(its parameters: model, device, load_format, max_tokens"):
        build_backend({"backend": "hf", "model": "m", "engine_kwargs": {"enforce_eager": True}})
    with pytest.raises(ConfigError, match=r"engine_kwargs must be a mapping of vLLM engine options \(\{max_num_seqs: 64, ...\}\), not 5"):
        build_backend({"backend": "vllm", "model": "m", "engine_kwargs": 5})


def test_mlflow_database_uri_and_unreachable_server_are_one_line_quickly(tmp_path, monkeypatch):
    import importlib.util
    import time

    pytest.importorskip("mlflow")
    import ragsweep.tracking.mlflow as tracking
    from ragsweep.tracking.mlflow import MlflowTracker, TrackingError

    found = importlib.util.find_spec
    with monkeypatch.context() as patch:  # a client without alembic (optuna brings it along here): no database store
        patch.setattr(tracking.importlib.util, "find_spec", lambda name, *a: None if name == "alembic" else found(name, *a))
        with pytest.raises(ConfigError, match=r"tracking.tracking_uri='sqlite:///x.db': a database store needs the full mlflow package"):
            MlflowTracker(tracking_uri="sqlite:///x.db")
    if found("alembic") is not None:  # with it, the client's database store is accepted
        assert MlflowTracker(tracking_uri=f"sqlite:///{tmp_path}/runs.db").uri.startswith("sqlite:")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tracker = MlflowTracker(tracking_uri=f"http://127.0.0.1:{port}")
    t0 = time.perf_counter()
    with pytest.raises(TrackingError, match=rf"mlflow tracking at http://127.0.0.1:{port}: the server does not answer"):
        tracker.start_sweep("s", tmp_path / "sweep")
    assert time.perf_counter() - t0 < 10


def test_a_gold_id_without_the_folder_corpus_extension_says_which_id_it_means(tmp_path):
    suite = tmp_path / "suite"
    (suite / "docs").mkdir(parents=True)
    (suite / "docs" / "kettle.txt").write_text("The kettle boils water in two minutes.")
    (suite / "questions.jsonl").write_text(json.dumps({"id": "q1", "question": "How fast?", "gold_doc_ids": ["kettle"]}) + "\n")
    with pytest.raises(DataError, match=r"gold document 'kettle' is not in the corpus \(it could never be retrieved\): did you mean 'kettle.txt'\?"):
        run(tmp_path, "task=generic", f"task.path={suite}", "task.corpus=docs")


def test_a_headline_metric_no_family_writes_stops_the_run_before_any_work(tmp_path, caplog):
    import logging

    suite = hand_suite(tmp_path)
    caplog.set_level(logging.INFO)
    with pytest.raises(ConfigError, match=r"task.headline_metric='doc_recal@5' is not a metric this run can compute: did you mean 'doc_recall@5'\?"):
        run(tmp_path, "task=generic", f"task.path={suite}", "+task.headline_metric=doc_recal@5")
    assert "stage load" not in caplog.text and not (tmp_path / "cache").exists()
    run_dir, _ = run(tmp_path, "task=generic", f"task.path={suite}", "+task.headline_metric=doc_mrr@10")
    assert json.loads((run_dir / "metrics.json").read_text())["headline"] == "doc_mrr@10"


def test_out_into_an_unwritable_place_names_out(tmp_path):
    from ragsweep.analysis.trec_export import main as trec_export
    from ragsweep.errors import WriteError

    run_dir, _ = run(tmp_path, "task=generic", f"task.path={hand_suite(tmp_path)}")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(WriteError, match=r"cannot write to .*: point --out at a writable folder$"):
        trec_export([str(run_dir), "--out", str(blocker / "trec")])
