"""Reading judge replies, panel verdicts and Cohen's kappa: hand-computed cases."""

from __future__ import annotations

import math

import pytest

from ragsweep.metrics.agreement import cohen_kappa
from ragsweep.metrics.judge import (
    contradiction_score,
    correctness_score,
    coverage_label_from_f1,
    coverage_score,
    panel_score,
    parse_json_object,
    yes_no_score,
)


def test_parse_json_object_finds_bare_fenced_and_embedded_objects():
    assert parse_json_object('{"a": 1}') == {"a": 1}
    assert parse_json_object('Sure!\n```json\n{"a": {"b": "}"}}\n```') == {"a": {"b": "}"}}
    assert parse_json_object('I think {"verdict": "YES"} is right') == {"verdict": "YES"}
    assert parse_json_object('{bad} then {"ok": true}') == {"ok": True}
    assert parse_json_object("no json here") is None and parse_json_object('{"open": ') is None


@pytest.mark.parametrize(
    "reply, coverage, contradiction",
    [
        ({"coverage": {"score": "full-coverage"}, "contradiction": {"score": "no-contradiction"}}, 100.0, 0.0),
        ({"coverage": {"score": "Partial Coverage"}, "contradiction": {"score": "contradiction"}}, 50.0, 1.0),
        ({"coverage": "no_coverage", "contradiction": "no"}, 0.0, 0.0),
        ({"coverage": {"score": "mostly"}, "contradiction": {}}, None, None),
        (None, None, None),
    ],
)
def test_coverage_and_contradiction_labels(reply, coverage, contradiction):
    assert coverage_score(reply) == coverage
    assert contradiction_score(reply) == contradiction


def test_yes_no_is_read_from_the_json_field_or_an_exact_label_only():
    assert yes_no_score('{"verdict": "YES"}') == 1.0 and yes_no_score('{"answer": "no"}') == 0.0
    assert yes_no_score("YES") == 1.0 and yes_no_score("  no.\n") == 0.0 and yes_no_score('"Yes"') == 1.0
    # llama-index would pass these ("yes" occurs in them); here they are unreadable.
    assert yes_no_score("The answer is supported, yes.") is None
    assert yes_no_score("No, the context says otherwise.") is None
    assert yes_no_score("The answer is: YES. The context supports it.") is None
    assert yes_no_score('{"verdict": 1}') is None and yes_no_score('{"verdict": "YES, mostly"}') is None
    assert yes_no_score("Verdict: no") is None and yes_no_score("") is None


def test_refusals_are_never_a_pass():
    refusals = [
        "Yes, I understand the task, but I cannot evaluate this answer.",
        "Yes. However I am unable to judge this.",
        "No can do: I won't grade this.",
        "I cannot evaluate this answer.",
    ]
    assert [yes_no_score(r) for r in refusals] == [None] * 4
    assert correctness_score("5 reasons prevent me from grading this") is None
    assert correctness_score("3 of the facts are unclear, so I cannot grade it.") is None
    assert correctness_score("I'd give it a 4") is None


def test_correctness_reads_json_or_an_exact_number_in_range():
    assert correctness_score('{"score": 4, "reasoning": "ok"}') == 4.0 and correctness_score('{"score": "3"}') == 3.0
    assert correctness_score("4.5") == 4.5 and correctness_score(" 2 ") == 2.0 and correctness_score("4/5") == 4.0
    assert correctness_score("4.5\nThe answer is mostly right.") is None
    assert correctness_score("Score: 2") is None
    assert correctness_score('{"score": 7}') is None and correctness_score("great answer") is None
    assert correctness_score('{"score": true}') is None and correctness_score("1.1.1.1.1") is None


def test_panel_mean_ignores_unreadable_members():
    assert panel_score([100.0, None, 50.0]) == 75.0
    assert panel_score([None, None]) is None


def test_coverage_grade_from_answer_overlap():
    assert [coverage_label_from_f1(1.0, 1.0), coverage_label_from_f1(0.0, 0.4), coverage_label_from_f1(0.0, 0.0)] == [100.0, 50.0, 0.0]


def test_cohen_kappa_hand_computed():
    # 10 items; a says yes 6 times, b yes 5 times; they agree on 7 (4 yes-yes, 3 no-no).
    a = ["y"] * 6 + ["n"] * 4
    b = ["y"] * 4 + ["n"] * 2 + ["y"] * 1 + ["n"] * 3
    p_o, p_e = 0.7, 0.6 * 0.5 + 0.4 * 0.5
    assert cohen_kappa(a, b) == pytest.approx((p_o - p_e) / (1 - p_e))  # 0.4
    assert cohen_kappa([1, 2, 3], [1, 2, 3]) == 1.0
    assert cohen_kappa([0, 1], [1, 0]) == pytest.approx(-1.0)
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"])) and math.isnan(cohen_kappa([], []))
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 2])
