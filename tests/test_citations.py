"""Cited answers (issue 15): the reply parser never guesses, citation scores by hand (duplicates, unknown
ids, empty lists, the reference's swapped columns), scores wired into records and metrics.json, and claim
attribution read strictly."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ragsweep.generators.llm import cited_fields
from ragsweep.scoring.citations import citation_metrics, citation_summary
from ragsweep.types import Chunk, Span
from ragsweep.metrics.citations import CitedAnswer, citation_prf, citation_scores, read_cited_answer
from ragsweep.metrics.judge import attribution_rate
from tests.loopback_openai import LoopbackServer


def test_reader_takes_citations_from_the_json_list_only():
    assert read_cited_answer('{"answer": "1921", "citations": [2, 1, 2]}', 3) == CitedAnswer("1921", (2, 1, 2))
    assert read_cited_answer('Sure! ```json\n{"answer": "x", "citations": ["[3]", "1"]}\n```', 3) == CitedAnswer("x", (3, 1))
    assert read_cited_answer('{"answer": "x", "citations": [0, 4, "two", 1.5, true]}', 3) == CitedAnswer("x", (), ("0", "4", "two", "1.5", "True"))
    assert read_cited_answer('{"answer": "x", "citations": []}', 3) == CitedAnswer("x", ())


@pytest.mark.parametrize("reply, error", [
    ("It opened in 1921 [1].", "no JSON object in the reply"),
    ('{"answer": "1921", "citations": [1', "no JSON object in the reply"),
    ('{"citations": [1]}', "no string 'answer' in the reply"),
    ('{"answer": 1921, "citations": [1]}', "no string 'answer' in the reply"),
    ('{"answer": "1921"}', "no 'citations' list in the reply"),
    ('{"answer": "1921", "citations": "1"}', "no 'citations' list in the reply"),
])
def test_unreadable_citations_are_recorded_never_guessed(reply, error):
    read = read_cited_answer(reply, 3)
    assert read.cited is None and read.error == error


def _chunks() -> list[Chunk]:
    return [Chunk("L#0", "L", 0, 100, "a" * 100), Chunk("L#1", "L", 102, 300, "b" * 198), Chunk("M#0", "M", 0, 50, "c" * 50)]


def test_cited_numbers_become_chunk_ids():
    ctx = _chunks()
    assert cited_fields('{"answer": "x", "citations": [2, 2, 9]}', ctx) == {"answer": "x", "citations": ("L#1", "?9"), "citation_error": None}
    assert cited_fields("prose", ctx) == {"answer": "prose", "citations": None, "citation_error": "no JSON object in the reply"}


def test_citation_scores_by_hand():
    # generated {a, b, ?9} (duplicates collapse), reference {a, c}: TP 1, P = 1/3, R = 1/2, F1 = 0.4
    s = citation_scores(["a", "b", "b", "?9"], ["a", "c"])
    assert (s.precision, s.recall, s.f1) == pytest.approx((1 / 3, 1 / 2, 0.4))
    swapped = citation_scores(["a", "b", "?9"], ["a", "c"], reference_swapped=True)
    assert (swapped.precision, swapped.recall, swapped.f1) == pytest.approx((1 / 2, 1 / 3, 0.4))
    assert citation_scores([], ["a"]) == citation_prf(0, 0, 1) and citation_scores([], ["a"]).f1 == 0.0


def test_citation_metrics_for_sections_documents_and_spans():
    by_id = {c.chunk_id: c for c in _chunks()}
    sections = {"L": [["1", 0, 100], ["2", 102, 300]]}
    out = citation_metrics(["L#1", "?7"], by_id, ["L-2", "L-1"], ("L",), (), sections, "overlap", False)
    assert (out["citation_precision"], out["citation_recall"], out["citation_f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert (out["citation_tp"], out["citation_generated"], out["citation_reference"]) == (1, 2, 2)
    docs = citation_metrics(["L#0", "M#0"], by_id, (), ("L",), [Span("L", 10, 20)], {}, "overlap", False)
    assert docs["citation_doc_precision"] == 0.5 and docs["citation_doc_recall"] == 1.0 and docs["cited_chunks_on_gold"] == 0.5
    nothing = citation_metrics([], by_id, ["L-1"], ("L",), [Span("L", 10, 20)], sections, "overlap", False)
    assert nothing["citation_f1"] == 0.0 and nothing["cited_chunks_on_gold"] == 0.0


def test_citation_summary_counts_and_micro_scores():
    records = [
        {"citations": ["L#1"], "citation_error": None, "citation_tp": 1, "citation_generated": 1, "citation_reference": 2},
        {"citations": [], "citation_error": None, "citation_tp": 0, "citation_generated": 0, "citation_reference": 1},
        {"citations": ["?4", "L#0"], "citation_error": None, "citation_tp": 1, "citation_generated": 2, "citation_reference": 1},
        {"citations": None, "citation_error": "no JSON object in the reply"},
        {"answer": "no citations asked"},
    ]
    s = citation_summary(records, False)
    assert (s["citations_asked"], s["citations_unreadable"], s["answers_without_citations"], s["citations_unknown"]) == (4, 1, 1, 1)
    # micro over the 3 readable: TP 2, generated 3, reference 4
    assert (s["citation_micro_precision"], s["citation_micro_recall"]) == pytest.approx((2 / 3, 2 / 4))
    assert citation_summary(records, True)["citation_micro_precision"] == pytest.approx(2 / 4)


def test_attribution_rate_reads_boolean_verdicts_only():
    assert attribution_rate('{"claims": [{"claim": "a", "supported": true}, {"claim": "b", "supported": false}]}') == 0.5
    assert attribution_rate('{"claims": []}') is None and attribution_rate("All claims are supported.") is None
    assert attribution_rate('{"claims": [{"claim": "a", "supported": "yes"}]}') is None


def _cited_reply(body):
    user = body["messages"][-1]["content"]
    if "Passages:" in user:
        return '{"answer": "Hallowmere", "citations": [1, 7]}' if "Tidewater" in user else "I cannot answer."
    return '{"claims": [{"claim": "x", "supported": true}]}'


def test_cited_run_records_scores_validity_and_attribution(tmp_path):
    from tests.helpers import run

    with LoopbackServer(_cited_reply) as server:
        run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25", "generator=openai_cited", f"generator.base_url={server.url}",
                         "generator.model=m", "judge=openai", f"judge.models.0.base_url={server.url}", "judge.rubrics=[attribution]")
        schema = next(b for b in server.bodies if "Passages:" in b["messages"][-1]["content"])["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["answer", "citations"]
    records = pd.read_parquet(run_dir / "records.parquet").set_index("query_id")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    readable = records[records["citation_error"].isna()]
    assert summary["citations_asked"] == 16 and summary["citations_unreadable"] == 16 - len(readable) > 0
    assert all(c[-1] == "?7" for c in readable["citations"])  # passage 7 of 5: an unknown id, kept as a wrong citation
    assert readable["citation_doc_precision"].notna().all() and records.loc[records["citation_error"].notna(), "citation_doc_f1"].isna().all()
    assert summary["judge_attribution_attempted"] == len(readable) and summary["judge_attribution_valid"] == 1.0
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert metrics["citation_doc_f1"]["n"] == len(readable) and metrics["judge_attribution"]["mean"] == 1.0
