"""TREC-style evaluation: graded-label metrics against hand values and trec_eval itself, nugget scores, TREC files
(round trip, hostile and malformed input), qrels as gold, and the assessor in real runs with a scripted model:
labels reused across chunkers, invalid replies counted and asked again, the miss split, the leaderboard."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pandas as pd
import pytest

from ragsweep.assessors.nuggets import read_assignment, read_importance, read_nuggets, shown
from ragsweep.assessors.relevance import gold_label, read_grade
from ragsweep.errors import DataError
from ragsweep.metrics.trec import graded_ndcg_at_k, judged_at_k, missed_split, nugget_scores, precision_at_k
from ragsweep.store.trec_files import evaluate, qrels_lines, read_qrels, read_run, run_lines
from ragsweep.types import Chunk, Query, Span
from tests.helpers import run
from tests import scripted_assessor

SCRIPTED = "assessor.models.0.backend=tests.scripted_assessor.ScriptedBackend"


# --- metrics, by hand ---------------------------------------------------------------------------------------------

def test_graded_ndcg_precision_judged_by_hand():
    labels = {"a": 3, "b": 2, "c": 1, "d": 0}
    ranked = ["d", "a", "x", "b"]
    # DCG@4 = 0/log2 2 + 3/log2 3 + 0 + 2/log2 5; ideal = 3/log2 2 + 2/log2 3 + 1/log2 4
    dcg = 3 / math.log2(3) + 2 / math.log2(5)
    ideal = 3 + 2 / math.log2(3) + 1 / 2
    assert graded_ndcg_at_k(ranked, labels, 4) == pytest.approx(dcg / ideal, abs=1e-12)
    assert graded_ndcg_at_k(ranked, labels, 1) == 0.0
    assert precision_at_k(ranked, labels, 4) == 0.5  # a and b are >= 2
    assert precision_at_k(ranked, labels, 4, relevant_from=1) == 0.5
    assert precision_at_k(ranked, labels, 10) == 0.2  # a short ranking is not rewarded: over k
    assert judged_at_k(ranked, labels, 4) == 0.75  # x carries no label
    assert graded_ndcg_at_k(ranked, {"d": 0}, 4) is None  # no positive label: no nDCG (trec_eval skips the query)


def test_nugget_scores_by_hand():
    importance = ["vital", "vital", "okay", "okay"]
    assignments = ["support", "partial_support", "support", "not_support"]
    s = nugget_scores(importance, assignments)
    assert s["all_strict"] == 0.5
    assert s["all_partial"] == pytest.approx(2.5 / 4)
    assert s["vital_strict"] == 0.5
    assert s["vital_partial"] == 0.75
    assert s["weighted"] == pytest.approx((1 + 0.5 + 0.5 * 1 + 0) / 3)
    assert nugget_scores(["okay"], ["support"])["vital_strict"] is None
    with pytest.raises(ValueError):
        nugget_scores(["vital"], ["maybe"])
    assert missed_split(["not_support", "not_support", "support", "partial_support"], [False, True, False, False]) == (1, 1)


def test_evaluate_equals_trec_eval_on_random_runs():
    """ndcg_cut and P (relevance level 2) from ragsweep's evaluate against pytrec_eval (trec_eval's own C code)."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(7)
    run_scores, qrels = {}, {}
    for q in range(30):
        items = [f"d{i}" for i in range(40)]
        rng.shuffle(items)
        # distinct scores, so trec_eval's order is the ranking's
        run_scores[f"q{q}"] = {d: float(40 - i) + rng.random() * 0.5 for i, d in enumerate(items[:25])}
        qrels[f"q{q}"] = {d: rng.choice([0, 0, 1, 2, 3]) for d in rng.sample(items, 15)}
    ranked = {q: sorted(s, key=s.get, reverse=True) for q, s in run_scores.items()}
    ours = evaluate(ranked, qrels, [5, 10, 20])
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5,10,20", "P.5,10,20", "recall.5,10,20"}, relevance_level=2)
    theirs = evaluator.evaluate(run_scores)
    compared = 0
    for q, row in ours.items():
        for k in (5, 10, 20):
            assert row[f"P.{k}"] == pytest.approx(theirs[q][f"P_{k}"], abs=1e-12)
            assert row[f"recall.{k}"] == pytest.approx(theirs[q][f"recall_{k}"], abs=1e-12)
            if f"ndcg_cut.{k}" in row:
                assert row[f"ndcg_cut.{k}"] == pytest.approx(theirs[q][f"ndcg_cut_{k}"], abs=1e-12)
                compared += 1
    assert compared > 60


# --- readers --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,grade", [
    ('{"score": 2}', 2), ("##final score: 3", 3), ("  1 ", 1), ('{"score": 4}', None), ('{"score": "2"}', None),
    ('{"score": true}', None), ("I think 2", None), ("2 or 3", None), ("", None), ("<b>3</b>", None), ("##final score: 7", None),
])
def test_read_grade_is_strict(reply, grade):
    assert read_grade(reply) == grade


def test_nugget_readers_are_strict():
    assert read_nuggets("- Orla founded Kessick\n- Orla was born in 1911\n- Orla founded Kessick", 5) == ["Orla founded Kessick", "Orla was born in 1911"]
    assert read_nuggets('{"nuggets": ["a", 3, "b"]}', 5) == ["a", "b"]
    assert read_nuggets("There are no facts here.", 5) is None
    assert read_nuggets("- a\n- b\n- c", 2) == ["a", "b"]
    assert read_importance('{"importance": "vital"}') == "vital"
    assert read_importance("Vital, clearly") is None
    assert read_assignment("partial_support") == "partial_support"
    assert read_assignment('{"label": "supported"}') is None


def test_gold_decides_what_it_can():
    q = Query("q", "?", gold_spans=(Span("a", 10, 20),))
    chunk = lambda doc, s, e: Chunk(f"{doc}#{s}", doc, s, e, "x" * (e - s))  # noqa: E731
    assert gold_label(chunk("a", 15, 30), q, False, 3) == (3, "gold")
    assert gold_label(chunk("a", 20, 30), q, False, 3) is None  # touches the span's end only: no overlap
    assert gold_label(chunk("b", 0, 5), q, False, 3) is None
    assert gold_label(chunk("b", 0, 5), q, True, 3) == (0, "gold")  # fully judged: another document is a negative
    assert gold_label(chunk("a", 20, 30), q, True, 3) is None  # a gold document's other text stays undecided
    graded = Query("q", "?", gold_doc_ids=("a",), gold_doc_grades=(("a", 2), ("b", 0)))
    assert gold_label(chunk("b", 0, 5), graded, False, 3) == (0, "qrels")
    assert gold_label(chunk("a", 0, 5), graded, False, 3) == (2, "qrels")
    assert shown([["a", 10, 20]], [chunk("a", 19, 40)]) and not shown([["a", 10, 20]], [chunk("a", 20, 40)])


# --- TREC files -----------------------------------------------------------------------------------------------------

def test_trec_files_round_trip_hostile_ids(tmp_path):
    ids = ["Tidewater Institute#0", "100%#1", "plain#2", "tab\there#3", "<b>x</b>#4"]
    (tmp_path / "r.run").write_text("\n".join(run_lines([("q 1", ids, [5.0, 4.0, 3.0, 2.0, 1.0])], "mine")) + "\n")
    (tmp_path / "r.qrels").write_text("\n".join(qrels_lines({"q 1": {ids[0]: 3, ids[1]: 0, ids[4]: 1}})) + "\n")
    assert read_run(tmp_path / "r.run") == {"q 1": ids}
    assert read_qrels(tmp_path / "r.qrels") == {"q 1": {ids[0]: 3, ids[1]: 0, ids[4]: 1}}
    assert all(len(line.split()) == 6 for line in (tmp_path / "r.run").read_text().splitlines())


def test_read_run_orders_as_trec_eval(tmp_path):
    (tmp_path / "r.run").write_text("q Q0 a 1 2.0 t\nq Q0 b 2 2.0 t\nq Q0 c 3 3.0 t\n")
    assert read_run(tmp_path / "r.run") == {"q": ["c", "b", "a"]}  # score descending, ties by id descending


@pytest.mark.parametrize("text,needle", [
    ("q 0 a\n", "line 1: expected 4 fields"),
    ("q 0 a x\n", "line 1, field 'grade': grade 'x' is not an integer"),
    ("q 0 a 1\nq 0 a 2\n", "line 2, field 'item_id': query 'q' labels 'a' twice"),
])
def test_bad_qrels_name_the_line(tmp_path, text, needle):
    (tmp_path / "bad.qrels").write_text(text)
    with pytest.raises(DataError) as err:
        read_qrels(tmp_path / "bad.qrels")
    assert needle in str(err.value) and "bad.qrels" in str(err.value)


@pytest.mark.parametrize("text,needle", [
    ("q Q0 a 1 nan t\n", "score is NaN"), ("q Q0 a 1 high t\n", "score 'high' is not a number"),
    ("q Q0 a 1 2 t\nq Q0 a 2 1 t\n", "retrieves 'a' twice"), ("q Q0 a 1 2\n", "expected 6 fields"),
])
def test_bad_runs_name_the_line(tmp_path, text, needle):
    (tmp_path / "bad.run").write_text(text)
    with pytest.raises(DataError, match=needle):
        read_run(tmp_path / "bad.run")


def test_truncated_and_binary_files(tmp_path):
    (tmp_path / "t.qrels").write_bytes(b"q 0 a 1\nq 0 b")
    with pytest.raises(DataError, match="line 2: expected 4 fields"):
        read_qrels(tmp_path / "t.qrels")
    (tmp_path / "b.qrels").write_bytes(b"\xff\xfe\x00q")
    with pytest.raises(DataError, match="not UTF-8"):
        read_qrels(tmp_path / "b.qrels")


# --- the assessor in real runs (scripted model) ---------------------------------------------------------------------

def _suite(tmp_path: Path) -> Path:
    """Four one-chunk documents; q1's gold is all of d_a; the other documents carry the scripted grade they get."""
    folder = tmp_path / "suite"
    folder.mkdir()
    docs = {
        "d_a": "Orla founded the harbour.",
        "d_b": "The harbour [g2] sells fish.",
        "d_c": "The harbour weather [g1] is mild.",
        "d_d": "Nothing about [g0] the harbour.",
    }
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items()))
    q = {"id": "q1", "question": "Who founded the harbour", "answers": ["Orla"],
         "gold_spans": [{"doc_id": "d_a", "start": 0, "end": len(docs["d_a"])}]}
    (folder / "questions.jsonl").write_text(json.dumps(q) + "\n")
    return folder


def _records(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "records.parquet")


def test_judged_metrics_by_hand_and_export_round_trip(tmp_path):
    folder = _suite(tmp_path)
    run_dir, info = run(tmp_path, "task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "eval_k=[1,4]")
    r = _records(run_dir).iloc[0]
    ranked = list(r["ranked_chunk_ids"])
    assert sorted(ranked) == ["d_a#0", "d_b#0", "d_c#0", "d_d#0"]
    labels = {"d_a#0": 3, "d_b#0": 2, "d_c#0": 1, "d_d#0": 0}  # gold for d_a, the scripted grades elsewhere
    assert {k: v[0] for k, v in json.loads(r["assessment_labels"]).items()} == labels
    assert json.loads(r["assessment_labels"])["d_a#0"][1] == "gold"
    ideal = 3 + 2 / math.log2(3) + 1 / 2
    dcg = sum(labels[c] / math.log2(i + 2) for i, c in enumerate(ranked))
    assert r["judged_ndcg@4"] == pytest.approx(dcg / ideal, abs=1e-12)
    assert r["judged_precision@4"] == 0.5 and r["judged@4"] == 1.0
    assert r["judged_ndcg@1"] == pytest.approx(labels[ranked[0]] / 3)
    # the gold-decided chunk was also labelled by the model (3: it holds "harbour"), for the agreement check
    metrics = json.loads((run_dir / "metrics.json").read_text())
    agreement = metrics["summary"]["assessor_gold_agreement"]
    assert agreement["n"] == 1 and agreement["cohen_kappa"] is None and agreement["true_positive_rate"] == 1.0
    assert info["assessment"]["relevance"] == {"asked": 4, "distinct": 4, "from_store": 0, "new": 4, "invalid": 0, "failed": 0}
    assert metrics["judges"]["judged_ndcg@4"]["rubric"] == "umbrela (umbrela-v1)"
    # nuggets: one from the gold span, vital (it names Orla); the extractive answer states it
    nuggets = json.loads(r["nuggets_json"])
    assert [(n["text"], n["importance"], n["evidence"]) for n in nuggets] == [("Orla founded the harbour", "vital", [["d_a", 0, 25]])]
    assert r["nugget_vital_strict"] == (1.0 if nuggets[0]["assignment"] == "support" else 0.0)
    # export: files read back and scored as trec_eval does give the run's own numbers
    from ragsweep.analysis.trec_export import main as trec_export

    assert trec_export([str(run_dir), "--out", str(tmp_path / "trec")]) == 0
    offsets = {c["chunk_id"]: f"{c['doc_id']}#{c['start']}-{c['end']}" for c in r["ranked_chunks"]}
    assert offsets["d_a#0"] == f"d_a#0-{len(r['ranked_chunks'][ranked.index('d_a#0')]['text'])}"
    qrels = read_qrels(tmp_path / "trec" / f"{run_dir.name}.qrels")
    assert qrels == {"q1": {offsets[c]: g for c, g in labels.items()}}  # chunks named by offsets, as outputs.path reads
    run_file = tmp_path / "trec" / f"{run_dir.name}.run"
    scored = evaluate(read_run(run_file), qrels, [4])
    assert scored["q1"]["ndcg_cut.4"] == pytest.approx(r["judged_ndcg@4"], abs=1e-12)
    # the exported run read back as another system's outputs: the same ranking, the same retrieval scores
    replay_dir, _ = run(tmp_path, "task=generic", f"task.path={folder}", f"outputs.path={run_file}", "eval_k=[1,4]")
    again = _records(replay_dir).iloc[0]
    assert [c["chunk_id"] for c in again["ranked_chunks"]] == [offsets[c] for c in ranked]
    retrieval = [c for c in _records(run_dir).columns if c.startswith(("doc_", "span_"))]
    assert retrieval and all(again[c] == r[c] for c in retrieval), {c: (r[c], again[c]) for c in retrieval}


def test_invalid_and_failed_labels_are_counted_never_stored(tmp_path):
    folder = _suite(tmp_path)
    corpus = folder / "corpus.jsonl"
    corpus.write_text(corpus.read_text().replace("[g1]", "[garbage]").replace("[g0]", "[fail]"))
    overrides = ("task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "eval_k=[4]")
    run_dir, info = run(tmp_path, *overrides)
    assert info["assessment"]["relevance"] == {"asked": 4, "distinct": 4, "from_store": 0, "new": 2, "invalid": 1, "failed": 1}
    assert info["failed_llm_results"] == 1
    r = _records(run_dir).iloc[0]
    assert set(json.loads(r["assessment_labels"])) == {"d_a#0", "d_b#0"}  # the other two stay unjudged
    assert r["judged@4"] == 0.5
    _, again = run(tmp_path, *overrides)
    assert again["assessment"]["relevance"] == {"asked": 4, "distinct": 4, "from_store": 2, "new": 0, "invalid": 1, "failed": 1}
    assert again["stages"]["assess"]["status"] == "computed"


def test_labels_are_reused_across_chunkers_and_retrievers(tmp_path):
    """multihop_mini: fixed_tokens 128 and recursive 400 cut the same chunk texts; bm25 and dense rank them
    differently. Every distinct (query, chunk text) is asked once over the three runs."""
    common = ("assessor=llm", SCRIPTED, "assessor.nuggets=false", "assessor.depth=5")
    scripted_assessor.CALLS.clear()
    _, first = run(tmp_path, "chunker=fixed_tokens", "retriever=bm25", *common)
    _, second = run(tmp_path, "chunker=recursive", "retriever=bm25", *common)
    _, third = run(tmp_path, "chunker=fixed_tokens", "retriever=dense_hashing", *common)
    assert first["assessment"]["relevance"]["new"] == first["assessment"]["relevance"]["distinct"] == 80
    assert second["assessment"]["relevance"]["from_store"] == 80 and second["assessment"]["relevance"]["new"] == 0
    assert second["stages"]["assess"]["status"] == "hit"
    reused = third["assessment"]["relevance"]
    assert reused["from_store"] > 0 and reused["from_store"] + reused["new"] == reused["distinct"]
    assert scripted_assessor.CALLS["relevance"] == 80 + reused["new"]


def test_a_new_prompt_version_is_never_served_old_labels(tmp_path):
    folder = _suite(tmp_path)
    base = ("task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "assessor.nuggets=false")
    run(tmp_path, *base)
    _, info = run(tmp_path, *base, "assessor.prompts.relevance.version=umbrela-v2")
    assert info["assessment"]["relevance"]["from_store"] == 0 and info["assessment"]["relevance"]["new"] == 4


def test_nugget_miss_split_matches_the_evidence_shown(tmp_path):
    run_dir, info = run(tmp_path, "assessor=llm", SCRIPTED, "assessor.depth=3", "generator.context_k=1")
    records = _records(run_dir)
    counted = {"retrieval": 0, "generation": 0}
    for _, r in records.iterrows():
        if r.get("nuggets_status") != "scored":
            continue
        context = set(r["context_chunk_ids"])
        shown_chunks = [c for c in r["ranked_chunks"] if c["chunk_id"] in context]
        for n in json.loads(r["nuggets_json"]):
            in_context = any(c["doc_id"] == d and c["start"] < e and s < c["end"] for d, s, e in n["evidence"] for c in shown_chunks)
            assert n["in_context"] == in_context
            if n["assignment"] == "not_support":
                counted["generation" if in_context else "retrieval"] += 1
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert summary["nuggets_missed_retrieval"] == counted["retrieval"] > 0
    assert summary["nuggets_missed_generation"] == counted["generation"]
    assert info["assessment"]["nugget_queries"]["scored"] == 16


def test_qrels_file_as_gold(tmp_path):
    folder = _suite(tmp_path)
    qrels = tmp_path / "labels.qrels"
    qrels.write_text("q1 0 d_b 2\nq1 0 d_c 0\n")
    run_dir, _ = run(tmp_path, "task=generic", f"task.path={folder}", f"+task.qrels={qrels}", "eval_k=[4]")
    r = _records(run_dir).iloc[0]
    assert list(r["gold_doc_ids"]) == ["d_b"]
    ranked_docs = [c["doc_id"] for c in r["ranked_chunks"]]
    assert r["doc_ndcg@4"] == pytest.approx(1 / math.log2(ranked_docs.index("d_b") + 2))
    qrels.write_text("q1 0 d_b 2\nq9 0 d_b 1\n")
    with pytest.raises(DataError, match="labels.qrels, record query q9: query 'q9' is not in the suite"):
        run(tmp_path, "task=generic", f"task.path={folder}", f"+task.qrels={qrels}")
    qrels.write_text("q1 0 ../../etc/passwd 2\n")
    with pytest.raises(DataError, match="document '../../etc/passwd' is not in the suite's corpus"):
        run(tmp_path, "task=generic", f"task.path={folder}", f"+task.qrels={qrels}")


def test_leaderboard_shows_the_assessor_and_its_agreement(tmp_path):
    run(tmp_path, "assessor=llm", SCRIPTED, "assessor.depth=5", "assessor.fully_judged=true")
    from ragsweep.analysis.leaderboard import column_label, load_runs

    runs = load_runs(tmp_path / "runs")
    label = column_label(runs, "judged_ndcg@10")
    assert label.startswith("judged_ndcg@10 (kappa ")
    assert column_label(runs, "nugget_vital_strict") == "nugget_vital_strict (uncalibrated)"
    agreement = runs[0]["metrics"]["summary"]["assessor_gold_agreement"]
    assert agreement["gold_negatives"] > 0 and agreement["cohen_kappa"] is not None


def test_tied_scores_keep_the_run_order_in_trec_eval(tmp_path):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    lines = run_lines([("q", ["a", "b", "c", "d"], [2.0, 1.0, 1.0, 1.0])], "t")
    (tmp_path / "r.run").write_text("\n".join(lines) + "\n")
    assert read_run(tmp_path / "r.run") == {"q": ["a", "b", "c", "d"]}
    assert [float(line.split()[4]) for line in lines][:2] == [2.0, 1.0]
    written = {line.split()[2]: float(line.split()[4]) for line in lines}
    qrels = {"q": {"d": 3, "b": 1}}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.4"}).evaluate({"q": written})
    assert theirs["q"]["ndcg_cut_4"] == pytest.approx(graded_ndcg_at_k(["a", "b", "c", "d"], qrels["q"], 4), abs=1e-12)


def test_scores_apart_only_beyond_float32_tie_in_trec_eval_and_are_kept_apart(tmp_path):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    scores = [1.0, 1.0 - 1e-12, 1.0 - 2e-12]  # distinct doubles, one float32
    lines = run_lines([("q", ["x", "y", "z"], scores)], "t")
    written = {line.split()[2]: float(line.split()[4]) for line in lines}
    assert written["x"] > written["y"] > written["z"]
    qrels = {"q": {"z": 2}}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.3"}).evaluate({"q": written})
    assert theirs["q"]["ndcg_cut_3"] == pytest.approx(1 / math.log2(4), abs=1e-12)
    (tmp_path / "r.run").write_text("\n".join(lines) + "\n")
    assert read_run(tmp_path / "r.run")["q"] == ["x", "y", "z"]


def test_a_corrupt_label_on_disk_is_moved_aside_and_asked_again(tmp_path):
    folder = _suite(tmp_path)
    overrides = ("task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "assessor.nuggets=false", "eval_k=[4]")
    first_dir, _ = run(tmp_path, *overrides)
    entries = sorted((tmp_path / "cache" / "assess_relevance").rglob("*.json.gz"))
    assert len(entries) == 4
    entries[0].write_bytes(entries[0].read_bytes()[:-5])
    second_dir, info = run(tmp_path, *overrides)
    assert info["assessment"]["relevance"]["from_store"] == 3 and info["assessment"]["relevance"]["new"] == 1
    assert len(list((tmp_path / "cache" / "assess_relevance").rglob("*.corrupt"))) == 1
    assert _records(second_dir)["judged_ndcg@4"].tolist() == _records(first_dir)["judged_ndcg@4"].tolist()


def test_assessor_config_faults_are_one_line(tmp_path):
    from ragsweep.errors import ConfigError

    with pytest.raises(ConfigError, match=r"assessor.depth must be a whole number >= 1, not 0"):
        run(tmp_path, "assessor=llm", SCRIPTED, "assessor.depth=0")
    with pytest.raises(ConfigError, match=r"assessor.prompts.relevance must hold at least a user template and a version"):
        run(tmp_path, "assessor=llm", SCRIPTED, "~assessor.prompts.relevance.version")
    with pytest.raises(ConfigError, match="gold_grade and assessor.relevant_from are grades on the 0-3 scale"):
        run(tmp_path, "assessor=llm", SCRIPTED, "assessor.relevant_from=5")


REPO = Path(__file__).resolve().parent.parent


def _sweep(tmp_path: Path, *args: str) -> list[dict]:
    """`ragsweep sweep trec` through the command, the scripted model as assessor; each run's metrics.json."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(REPO), "RAGSWEEP_RESULTS": str(tmp_path / "results"), "RAGSWEEP_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "ragsweep", "sweep", "trec", SCRIPTED, *args], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = sorted((tmp_path / "results" / "runs" / "trec").glob("*/metrics.json"))
    return [{**json.loads(p.read_text()), "info": json.loads((p.parent / "run.json").read_text())} for p in runs]


def _check_sweep(runs: list[dict], k: int) -> None:
    for m in runs:
        for column in (f"judged_ndcg@{k}", f"judged@{k}", "nugget_vital_strict", "nugget_missed_retrieval", "nugget_missed_generation"):
            assert column in m["metrics"], (m["components"], column)
        assert m["summary"]["nuggets_missed_retrieval"] + m["summary"]["nuggets_missed_generation"] <= m["summary"]["nuggets_total"]
        relevance = m["info"]["assessment"]["relevance"]
        assert relevance["from_store"] + relevance["new"] + relevance["invalid"] + relevance["failed"] == relevance["distinct"]
    # labels are shared: the sweep asked fewer labels than its runs needed
    needed = sum(m["info"]["assessment"]["relevance"]["distinct"] for m in runs)
    asked = sum(m["info"]["assessment"]["relevance"]["new"] for m in runs)
    assert asked < needed


@pytest.mark.process
def test_trec_sweep_on_multihop_mini(tmp_path):
    runs = _sweep(tmp_path)
    assert len(runs) == 9
    _check_sweep(runs, 10)
    assert all(m["summary"]["assessor_gold_agreement"]["cohen_kappa"] is not None for m in runs)  # fully judged: both classes


@pytest.mark.process
def test_trec_sweep_on_hotpotqa_sample(tmp_path):
    import os

    data = Path(os.environ.get("RAGSWEEP_DATA", "data"))
    if not (data / "hotpotqa_sample" / "questions.json").is_file():
        pytest.skip("hotpotqa_sample is not here (set RAGSWEEP_DATA to the folder that holds it)")
    runs = _sweep(tmp_path, "task=hotpotqa_sample", "assessor.fully_judged=false", "assessor.depth=5", "chunker=fixed_tokens,sentences",
                  "retriever=bm25", f"task.path={data / 'hotpotqa_sample'}")
    assert len(runs) == 2
    _check_sweep(runs, 10)


def test_assessor_on_an_openai_compatible_server(tmp_path):
    """assessor=openai against a loopback server answering as the scripted model: the same labels, JSON-schema
    decoding asked of the server, and a failed call counted and asked again."""
    from tests.loopback_openai import LoopbackServer
    from tests.scripted_assessor import ScriptedBackend

    scripted = ScriptedBackend("scripted")
    folder = _suite(tmp_path)
    overrides = ("task=generic", f"task.path={folder}", "assessor=openai", "eval_k=[4]")
    with LoopbackServer(lambda body: scripted._one(body["messages"][-1]["content"]).text, failures=1) as server:
        run_dir, info = run(tmp_path, *overrides, f"assessor.models.0.base_url={server.url}", "+assessor.models.0.max_retries=0")
        schemas = [b.get("response_format", {}).get("json_schema", {}).get("schema") for b in server.bodies]
    assert info["assessment"]["relevance"]["failed"] == 1 and info["failed_llm_results"] >= 1
    assert {"type": "object", "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 3}}, "required": ["score"]} in schemas
    with LoopbackServer(lambda body: scripted._one(body["messages"][-1]["content"]).text) as server:
        run_dir, again = run(tmp_path, *overrides, f"assessor.models.0.base_url={server.url}", "+assessor.models.0.max_retries=0")
    assert again["assessment"]["relevance"]["new"] == 1 and again["assessment"]["relevance"]["from_store"] == 3
    labels = {k: v[0] for k, v in json.loads(_records(run_dir).iloc[0]["assessment_labels"]).items()}
    assert labels == {"d_a#0": 3, "d_b#0": 2, "d_c#0": 1, "d_d#0": 0}


def test_doc_level_export_reads_back_and_its_recall_is_trec_evals(tmp_path):
    """--level doc: both files re-import as written (the run through outputs.path, the qrels as the suite's gold),
    and recall over the re-imported document ranking is trec_eval's recall.k on the files."""
    from ragsweep.analysis.trec_export import main as trec_export

    folder = _suite(tmp_path)
    run_dir, _ = run(tmp_path, "task=generic", f"task.path={folder}", "assessor=llm", SCRIPTED, "eval_k=[1,4]")
    assert trec_export([str(run_dir), "--out", str(tmp_path / "doc"), "--level", "doc"]) == 0
    run_file, qrels_file = tmp_path / "doc" / f"{run_dir.name}.run", tmp_path / "doc" / f"{run_dir.name}.qrels"
    assert read_run(run_file) == {"q1": [c["doc_id"] for c in _records(run_dir).iloc[0]["ranked_chunks"]]}
    assert read_qrels(qrels_file) == {"q1": {"d_a": 3, "d_b": 2, "d_c": 1, "d_d": 0}}
    replay_dir, _ = run(tmp_path, "task=generic", f"task.path={folder}", f"outputs.path={run_file}", f"+task.qrels={qrels_file}", "eval_k=[1,4]")
    again = _records(replay_dir).iloc[0]
    assert [c["doc_id"] for c in again["ranked_chunks"]] == read_run(run_file)["q1"]
    scored = evaluate(read_run(run_file), read_qrels(qrels_file), [1, 4], relevant_from=1)  # the qrels' grade > 0 is the suite's gold
    assert again["doc_recall@1"] == scored["q1"]["recall.1"] and again["doc_recall@4"] == scored["q1"]["recall.4"] == 1.0


def test_doc_recall_is_the_chunk_cut_not_trec_evals_document_cut():
    """doc_recall@k counts the documents of the top k chunks; trec_eval's recall.k on a document run counts the top k
    documents. Two chunks of one document in the top 2: 0 against 0.5."""
    from ragsweep.metrics.retrieval import recall_at_k

    assert recall_at_k(["a", "a", "b"], ("b", "c"), 2) == 0.0
    assert evaluate({"q": ["a", "b"]}, {"q": {"b": 1, "c": 1}}, [2], relevant_from=1)["q"]["recall.2"] == 0.5


def test_the_plan_counts_the_assessors_questions_and_bounds_the_rest(tmp_path, monkeypatch, capsys):
    """``ragsweep plan`` with assessor=openai against a loopback server answering as the scripted model: relevance
    labels planned exactly (calls, prompt tokens and reply bounds as the run then sends them); with nuggets, whose
    later questions hold earlier replies, the plan is at least what the run sends; once run, all of it is stored."""
    import re

    from ragsweep.commands.plan import main as plan
    from tests.loopback_openai import LoopbackServer
    from tests.scripted_assessor import ScriptedBackend
    from tests.test_plan import sent_tokens

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    scripted = ScriptedBackend("scripted")
    folder = _suite(tmp_path)

    def planned(*overrides: str) -> tuple[int, int, int] | str:
        assert plan(["ci", *overrides]) == 0
        line = capsys.readouterr().out.split("assess: ")[1].splitlines()[0]
        found = re.fullmatch(r"(\d+) calls to default, ([\d,]+) prompt \+ at most ([\d,]+) completion tokens", line)
        return line if found is None else tuple(int(g.replace(",", "")) for g in found.groups())  # type: ignore[return-value]

    with LoopbackServer(lambda body: scripted._one(body["messages"][-1]["content"]).text) as server:
        overrides = ("task=generic", f"task.path={folder}", "retriever=bm25", "assessor=openai", "eval_k=[4]", f"assessor.models.0.base_url={server.url}")
        labels_only = planned(*overrides, "assessor.nuggets=false")
        run(tmp_path, *overrides, "assessor.nuggets=false")
        sent = list(server.bodies)
        assert labels_only == (4, sum(sent_tokens(b) for b in sent), sum(b["max_tokens"] for b in sent))  # one label a document
        with_nuggets = planned(*overrides)
        run(tmp_path, *overrides)
        sent = server.bodies[len(sent):]
        assert len(sent) > 0  # nuggets made, graded and assigned; the labels came from the store
        assert isinstance(with_nuggets, tuple) and with_nuggets[0] >= len(sent)
        assert with_nuggets[1] >= sum(sent_tokens(b) for b in sent) and with_nuggets[2] >= sum(b["max_tokens"] for b in sent)
        assert planned(*overrides) == "cached"  # every answer is in the assessment store now
        assert planned(*overrides, "assessor.nuggets=false") == "cached"
