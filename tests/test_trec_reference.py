"""assessor.reference: the released UMBRELA and Nuggetizer, equal to their own code. One scripted model
(tests/scripted_reference.py) replies to the reference packages' own code (UMBRELA's GPTJudge, Nuggetizer's
create / assign / scorer) and to ragsweep's reference mode; grades, nuggets and scores must agree query by query.
Hand-built assignment lists score as the reference's scorer scores them."""

from __future__ import annotations

import json
import sys
import types
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from ragsweep.assessors import reference
from ragsweep.assessors.llm import LLMAssessor
from ragsweep.assessors.store import AssessmentStore
from ragsweep.errors import ConfigError
from ragsweep.metrics.trec import nugget_scores
from ragsweep.store.cache import StageCache
from ragsweep.types import Chunk, Document, Generation, Query, Retrieved, Span
from tests import scripted_reference
from tests.helpers import run

BACKEND = {"backend": "tests.scripted_reference.ScriptedReferenceBackend", "model": "scripted", "max_tokens": 16}
REFERENCE_BACKEND = "assessor.models.0.backend=tests.scripted_reference.ScriptedReferenceBackend"


def _prompts() -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(Path(__file__).resolve().parent.parent / "configs/assessor/llm.yaml"))["prompts"]


def _assessor(**params) -> LLMAssessor:
    return LLMAssessor([BACKEND], _prompts(), reference=["umbrela", "nuggetizer"], **params)


# --- the reference packages' own code, driven by the scripted model ---------------------------------------------

@pytest.fixture
def gpt_judge(monkeypatch):
    """UMBRELA's GPTJudge as released. Its module imports pyserini (for few-shot examples from TREC DL qrels, unused
    at few_shot_count=0) and pkg_resources (to find its prompt file): both stood in for at import only."""
    monkeypatch.setitem(sys.modules, "pyserini", types.ModuleType("pyserini"))
    for name, attrs in (("pyserini.index", {}), ("pyserini.index.lucene", {"IndexReader": object}),
                        ("pyserini.search", {"get_qrels": None, "get_topics": None})):
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    finder = types.ModuleType("pkg_resources")
    finder.resource_filename = lambda package, path: str(resources.files(package) / path)
    monkeypatch.setitem(sys.modules, "pkg_resources", finder)
    for name in ("DEPLOYMENT_NAME", "AZURE_OPENAI_API_VERSION", "AZURE_OPENAI_API_BASE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("OPEN_AI_API_KEY", "unused")  # its client is replaced before any call
    for name in [m for m in sys.modules if m.startswith("umbrela.") and m != "umbrela.utils.common_utils" and "utils" not in m]:
        monkeypatch.delitem(sys.modules, name)
    from umbrela.gpt_judge import GPTJudge

    judge = GPTJudge(qrel="unused", few_shot_count=0)
    judge.client = scripted_reference.ReferenceOpenAI()
    return judge


def _reference_nuggetizer(grades: int = 3):
    from nuggetizer.core.types import NuggetAssignMode
    from nuggetizer.models.nuggetizer import Nuggetizer

    mode = NuggetAssignMode.SUPPORT_GRADE_2 if grades == 2 else NuggetAssignMode.SUPPORT_GRADE_3
    model = Nuggetizer(model="reference", api_keys="unused", assigner_mode=mode)
    model.creator_llm = model.scorer_llm = model.assigner_llm = scripted_reference.ReferenceHandler()
    return model


# --- a hand-built run: five questions exercising every awkward reply ----------------------------------------------

DOCS = {
    **{f"w{i}": f"Harbour record {i}, kept by the ALBA office. Later notes follow." for i in range(12)},  # 12 spans: two windows of 10
    "fence": "The lighthouse keeper lit the lamp, every night since 1903.",
    "short": "The mill ground barley, near the river Tay.",
    "unl": "The bridge was painted green, in spring.",
    "garb": "The ferry garble timetable changed, twice a year.",
    "eilean": "Eilean Mor has a lighthouse, on the west cliff.",
    "junk": "[garbage] The harbour holds fishing boats, all winter.",
}
QUESTIONS = [
    ("q1", "Who kept the harbour", [f"w{i}" for i in range(12)], "Harbour record 3 kept by the ALBA office"),
    ("q2", "When did the fence keeper light the lighthouse", ["fence"], "The lighthouse keeper lit the lamp"),
    ("q3", "What did the short mill grind", ["short"], "barley"),
    ("q4", "What unlistable colour was the bridge", ["unl"], "green"),
    ("q5", "When did the ferry timetable change", ["garb"], "The ferry garble timetable changed"),
]


def _run_inputs():
    documents = [Document(d, t) for d, t in DOCS.items()]
    chunks = [Chunk(f"{d}#0", d, 0, len(t), t) for d, t in DOCS.items()]
    queries = [Query(q, text, (answer,), tuple(Span(d, 0, len(DOCS[d])) for d in gold)) for q, text, gold, answer in QUESTIONS]
    ranked = [Retrieved(q, tuple(f"{d}#0" for d in ["eilean", "junk", *gold][:10]), tuple(range(10, 0, -1))[: min(10, 2 + len(gold))])
              for q, _, gold, _ in QUESTIONS]
    generations = [Generation(q, answer, ()) for q, _, _, answer in QUESTIONS]
    return queries, documents, chunks, ranked, generations


def test_reference_mode_equals_the_released_packages(tmp_path, gpt_judge):
    queries, documents, chunks, ranked, generations = _run_inputs()
    assessor = _assessor(check_against_gold=True)
    store = AssessmentStore(StageCache(tmp_path / "cache"), {"test": 1})
    out, stats = assessor.assess(store, queries, documents, chunks, ranked, generations)
    by_id = {c.chunk_id: c for c in chunks}
    # UMBRELA: every pool chunk's grade is the reference's, and the conversation is the one GPTJudge sends
    for q, r, a in zip(queries, ranked, out):
        judgments = gpt_judge.judge({"query": {"text": q.question}, "candidates": [{"doc": {"segment": by_id[c].text}} for c in r.chunk_ids]})
        assert [a["llm_labels"][c] for c in r.chunk_ids] == [j["judgment"] for j in judgments], q.query_id
        sent = gpt_judge.client.requests[-1]
        assert sent["messages"] == assessor.umbrela.conversation(q.question, by_id[r.chunk_ids[-1]].text)
        assert sent["max_tokens"] == reference.UMBRELA_MAX_TOKENS
    assert out[0]["llm_labels"]["eilean#0"] == 0 and out[0]["llm_labels"]["junk#0"] == 0  # "##final score" and prose: 0, as UMBRELA
    assert out[1]["llm_labels"]["fence#0"] == 3
    assert stats["relevance"]["invalid"] == 10  # two unreadable chunk texts for each of 5 queries, counted; 0 used, as UMBRELA does
    # Nuggetizer: the same nuggets, importance, assignments and scores, query by query
    from nuggetizer.core.metrics import calculate_nugget_scores
    from nuggetizer.core.types import Document as RefDocument, Query as RefQuery, Request

    model = _reference_nuggetizer()
    for q, a, g in zip(queries, out, generations):
        texts = [DOCS[s.doc_id] for s in q.gold_spans]
        made = model.create(Request(RefQuery(q.query_id, q.question), [RefDocument(str(i), t) for i, t in enumerate(texts)]))
        assigned = model.assign(q.question, g.answer, made)
        ours = a["nuggets"] or []
        assert [(n["text"], n["importance"], n["assignment"]) for n in ours] == [(n.text, n.importance, n.assignment) for n in assigned], q.query_id
        expected = calculate_nugget_scores(q.query_id, [{"importance": n.importance, "assignment": n.assignment} for n in assigned])
        got = nugget_scores([n["importance"] for n in ours], [n["assignment"] for n in ours], reference=True)
        assert (got["all_strict"], got["all_partial"], got["vital_strict"], got["vital_partial"]) == (
            expected.strict_all_score, expected.all_score, expected.strict_vital_score, expected.vital_score), q.query_id
    status = {a["query_id"]: a["nuggets_status"] for a in out}
    # q3: one importance label short, the reference drops its one nugget (counted); q4: creation unreadable;
    # q5: the assignment unreadable (the reference labels it failed, as it does after 500 tries)
    assert status == {"q1": "scored", "q2": "scored", "q3": "nuggets_invalid", "q4": "nuggets_invalid", "q5": "assignment_invalid"}
    assert len(out[0]["nuggets"]) == 12  # two creation windows (10 + 2 documents), scored and assigned in lists of 10 and 2
    assert out[2]["nuggets"] is None and [n["assignment"] for n in out[4]["nuggets"]] == ["failed"]
    assert stats["nuggets"]["dropped"] == 1 and stats["assignment"]["dropped"] == 0
    assert stats["nuggets"]["invalid"] == 1 and stats["assignment"]["invalid"] == 1
    assert stats["nugget_queries"] == {"no_evidence": 0, "nuggets_invalid": 2, "not_answered": 0, "assignment_invalid": 1, "scored": 2}
    assert stats["reference"] == {"umbrela": reference.PINNED["umbrela"], "nuggetizer": reference.PINNED["nuggetizer"]}


def test_the_reference_calls_of_all_queries_go_to_the_backend_in_batches(tmp_path):
    """Nuggetizer asks one conversation at a time; the five queries' creations run side by side, so the backend is
    sent 5 conversations at once (then the second window of q1 alone, then the importance lists, ...)."""
    queries, documents, chunks, ranked, generations = _run_inputs()
    store = AssessmentStore(StageCache(tmp_path / "cache"), {"test": 1})
    assessor = LLMAssessor([BACKEND], _prompts(), reference="nuggetizer")
    scripted_reference.BATCHES.clear()
    assessor.assess(store, queries, documents, chunks, ranked, generations)
    # relevance (ragsweep's own prompt, one batch); the 5 first creation windows; q1's second window beside the
    # importance lists of q2, q3 and q5 (q4's creation failed: replayed, no call); q1's two importance lists (12
    # nuggets: 10 and 2); the assignments of q1 (its first list), q2 and q5 (q3 lost its nugget); q1's second list
    assert scripted_reference.BATCHES == [len({(q.query_id, c) for q, r in zip(queries, ranked) for c in r.chunk_ids}), 5, 4, 1, 1, 3, 1]


def test_the_references_retry_warnings_stay_out_of_the_log(tmp_path, caplog):
    """Nuggetizer warns once per retry (500 for an unreadable window); ragsweep logs one line with the counts."""
    queries, documents, chunks, ranked, generations = _run_inputs()
    store = AssessmentStore(StageCache(tmp_path / "cache"), {"test": 1})
    with caplog.at_level("DEBUG"):
        LLMAssessor([BACKEND], _prompts(), reference="nuggetizer").assess(store, queries[3:], documents, chunks, ranked[3:], generations[3:])
    assert not [r for r in caplog.records if r.name.startswith("nuggetizer")]
    assert [r.getMessage() for r in caplog.records if "Nuggetizer:" in r.getMessage()] == [
        "Nuggetizer: 1 nugget sets and 1 assignments with unreadable replies, 0 failed calls, 0 nuggets dropped unlabelled"]


def test_run_batched_is_deterministic_and_raises_what_failed():
    calls: list[list[str]] = []

    def complete(conversations):
        calls.append([c[0]["content"] for c in conversations])
        return [c[0]["content"].upper() for c in conversations]

    def task(word, rounds):
        return lambda channel: [channel.run([{"role": "user", "content": f"{word}{i}"}])[0] for i in range(rounds)]

    results = reference.run_batched([task("a", 2), task("b", 1), task("c", 3)], complete)
    assert [r for r, _ in results] == [["A0", "A1"], ["B0"], ["C0", "C1", "C2"]]
    assert calls == [["a0", "b0", "c0"], ["a1", "c1"], ["c2"]]  # task order within each batch

    def broken(conversations):
        raise MemoryError("the backend fell over")

    with pytest.raises(MemoryError, match="fell over"):
        reference.run_batched([task("a", 1)], broken)

    def bad_task(channel):
        raise ValueError("a task failed")

    with pytest.raises(ValueError, match="a task failed"):
        reference.run_batched([task("a", 1), bad_task], complete)


def test_clean_results_are_stored_and_unclean_ones_asked_again(tmp_path):
    queries, documents, chunks, ranked, generations = _run_inputs()
    store = AssessmentStore(StageCache(tmp_path / "cache"), {"test": 1})
    _assessor().assess(store, queries, documents, chunks, ranked, generations)
    scripted_reference.CALLS.clear()
    out, stats = _assessor().assess(store, queries, documents, chunks, ranked, generations)
    # only the unreadable ones come back: UMBRELA's two unreadable texts (per query), q4's creation, q5's assignment
    assert stats["relevance"]["new"] == 0 and stats["relevance"]["invalid"] == 10 and scripted_reference.CALLS["umbrela"] == 10
    assert scripted_reference.CALLS["create"] == 1 and scripted_reference.CALLS["assign"] == 1 and scripted_reference.CALLS["score"] == 0
    assert stats["nuggets"]["from_store"] == 4 and stats["assignment"]["from_store"] == 2  # q3 and q4 have no nugget to assign


@pytest.mark.parametrize("importance, assignment", [
    (["vital", "okay"], ["support", "partial_support"]),
    (["okay", "okay"], ["support", "support"]),  # no vital nugget: the reference's vital scores are 0.0
    (["vital", "vital", "okay"], ["failed", "support", "partial_support"]),  # a failed assignment: not supported
    (["vital", "failed"], ["partial_support", "support"]),  # a failed importance: not vital
    (["vital", "okay"], ["supported", "not_support"]),  # a label outside the track's: not credited
    ([], []),  # no nugget at all: 0.0 everywhere
])
def test_hand_built_assignments_score_as_the_reference(importance, assignment):
    from nuggetizer.core.metrics import calculate_nugget_scores

    expected = calculate_nugget_scores("q", [{"importance": i, "assignment": a} for i, a in zip(importance, assignment)])
    got = nugget_scores(importance, assignment, reference=True)
    assert (got["all_strict"], got["all_partial"], got["vital_strict"], got["vital_partial"]) == (
        expected.strict_all_score, expected.all_score, expected.strict_vital_score, expected.vital_score)


def test_upper_case_labels_score_as_the_reference_pipeline():
    """The reference lowercases labels when it assigns (its scorer compares exactly): SUPPORT is support."""
    model = _reference_nuggetizer()
    from nuggetizer.core.types import ScoredNugget

    assigned = model.assign("q", "Orla founded the harbour", [ScoredNugget(text="Orla founded the harbour", importance="vital")])
    assert assigned[0].assignment == "support"  # the scripted model replied SUPPORT
    assert nugget_scores(["Vital"], ["SUPPORT"], reference=True)["vital_strict"] == 1.0


def test_two_grade_assignment_mode(tmp_path):
    queries, documents, chunks, ranked, generations = _run_inputs()
    store = AssessmentStore(StageCache(tmp_path / "cache"), {"test": 1})
    three = _assessor()
    two = _assessor(nugget_assign_grades=2)
    assert three.judge_id("nuggets") != two.judge_id("nuggets")
    out, _ = two.assess(store, queries[:2], documents, chunks, ranked[:2], generations[:2])
    model = _reference_nuggetizer(grades=2)
    from nuggetizer.core.types import ScoredNugget

    nuggets = [ScoredNugget(text=n["text"], importance=n["importance"]) for n in out[1]["nuggets"]]
    assert [n["assignment"] for n in out[1]["nuggets"]] == [n.assignment for n in model.assign(queries[1].question, generations[1].answer, nuggets)]
    assert "either as support or not_support" in model._get_assign_prompt_content("q", "p", nuggets)


def test_constants_the_packages_keep_inside_functions_match_their_source():
    """What reference mode cannot import is typed in ragsweep.assessors.reference: the installed source must hold it."""
    umbrela = (resources.files("umbrela") / "gpt_judge.py").read_text()
    assert f'"content": "{reference.UMBRELA_SYSTEM}"' in umbrela
    assert f"max_new_tokens={reference.UMBRELA_MAX_TOKENS}" in umbrela
    assert f"max_completion_tokens={reference.NUGGETIZER_MAX_TOKENS}" in (resources.files("nuggetizer") / "core" / "llm.py").read_text()
    assert "response.choices[0].message.content.lower()" in umbrela  # the reply is lowercased before parsing
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert all(f"{name}=={version}" in makefile for name, version in reference.PINNED.items())  # make install gives the pinned ones


def test_reference_settings_are_refused_in_one_line(monkeypatch):
    for value, needle in (("umbrela+bing", "unknown reference 'bing'"), (3, "must be null, a name or a list"), (["umbrela", 2], "a list of names")):
        with pytest.raises(ConfigError, match=needle):
            reference.references(value)
    assert reference.references("umbrela+nuggetizer") == ("umbrela", "nuggetizer") == reference.references(["umbrela", "nuggetizer", "umbrela"])
    with pytest.raises(ConfigError, match="must be 2 or 3"):
        _assessor(nugget_assign_grades=4)

    def missing(name):
        raise reference.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(reference.metadata, "version", missing)
    with pytest.raises(ConfigError, match=r"needs the released umbrela package, which is not installed: pip install --no-deps umbrela==0.0.7"):
        _assessor()


def test_a_run_in_reference_mode_records_the_packages_and_scores_as_the_track(tmp_path):
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"id": d, "text": t}) + "\n" for d, t in DOCS.items()))
    (folder / "questions.jsonl").write_text("".join(json.dumps({"id": q, "question": text, "answers": [answer],
                                                                 "gold_spans": [{"doc_id": d, "start": 0, "end": len(DOCS[d])} for d in gold]}) + "\n"
                                                      for q, text, gold, answer in QUESTIONS))
    run_dir, info = run(tmp_path, "task=generic", f"task.path={folder}", "assessor=llm", REFERENCE_BACKEND, "assessor.reference=[umbrela,nuggetizer]",
                        "nugget_reference_compat=true", "eval_k=[1,5]")
    assert info["assessment"]["reference"] == {"umbrela": "0.0.7", "nuggetizer": "0.0.5"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["judges"]["judged_ndcg@5"]["rubric"] == "umbrela 0.0.7 (reference)"
    assert metrics["judges"]["nugget_vital_strict"]["rubric"] == "nuggetizer 0.0.5 (reference)"
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    assert records["nugget_all_strict"].notna().all()  # reference scoring: every assessed query has a score
    assert "nugget_missed_retrieval" not in records.columns  # the reference's nuggets keep no evidence span to split misses by


@pytest.mark.process
def test_reproduce_trec_rag_sweep_with_a_scripted_model(tmp_path):
    """`ragsweep sweep reproduce_trec_rag` on the bundled multi-hop suite through the command, the scripted model
    answering the reference packages' prompts: both runs assessed in reference mode, labels shared between them."""
    import os
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo), "RAGSWEEP_RESULTS": str(tmp_path / "results"), "RAGSWEEP_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "ragsweep", "sweep", "reproduce_trec_rag", REFERENCE_BACKEND, "task.limit=4"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "stage load" in out.stderr and "sweep of 2 runs" in out.stderr  # logs on stderr (Hydra's default is stdout)
    assert "stage load" not in out.stdout and "[HYDRA]" not in out.stdout and "reproduce_trec_rag" in out.stdout  # the table
    runs = sorted((tmp_path / "results" / "runs" / "reproduce_trec_rag").glob("*/run.json"))
    assert len(runs) == 2
    for path in runs:
        info, metrics = json.loads(path.read_text()), json.loads((path.parent / "metrics.json").read_text())
        assert info["assessment"]["reference"] == reference.PINNED
        assert metrics["metrics"]["nugget_vital_strict"]["n"] == 4  # reference scoring: every question scored
        assert {"judged_ndcg@10", "nugget_all_strict", "nugget_vital_partial"} <= set(metrics["metrics"])
    second = json.loads(runs[1].read_text())["assessment"]
    assert second["nuggets"]["from_store"] + second["nuggets"]["invalid"] == 4  # the nugget sets are the suite's, made once
