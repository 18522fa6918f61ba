"""Calibration sets read in their published formats (ExpertQA claims, and a generic labelled JSONL), from small
files written here; bad records are one line naming file, record and field; splits keep groups whole."""

from __future__ import annotations

import json

import pytest

from ragsweep.errors import DataError
from ragsweep.judges.calibration_sets import read_expertqa_claims, read_labelled_jsonl, split_by_group


def claim(item_id: str, support: str = "Complete", question: str = "Why?", system: str = "rr_gs_gpt4", **extra) -> dict:
    return {"item_id": item_id, "question": question, "system": system, "claim_string": f"claim {item_id}",
            "evidence": ["[1] https://example.org/a\n\nThe passage that supports it."], "support": support,
            "correctness": "Probably correct", **extra}


def write(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def test_expertqa_claims_binary_and_graded(tmp_path):
    path = tmp_path / "claims.jsonl"
    write(path, [claim("q0:0", "Complete"), claim("q0:1", "Partial"), claim("q1:0", "Incomplete", question="How?")])
    items = read_expertqa_claims(path)
    assert [i.labels for i in items] == [("supported",), ("unsupported",), ("unsupported",)]
    assert items[0].context == ("The passage that supports it.",) and items[0].claim == "claim q0:0"
    assert items[0].group == items[1].group != items[2].group  # one answer's claims share a group
    assert [i.labels for i in read_expertqa_claims(path, binary=False)] == [("Complete",), ("Partial",), ("Incomplete",)]
    assert read_expertqa_claims(path, label="correctness")[0].labels == ("Probably correct",)


@pytest.mark.parametrize("row, message", [
    (claim("a", "N/A"), "record line 1, field 'support': 'N/A' is not one of Complete, Partial, Incomplete"),
    (claim("a", evidence=[]), "record line 1, field 'evidence': expected a non-empty list of evidence strings"),
    (claim("a", evidence=["[1] https://x.org\n\n   "]), "record line 1, field 'evidence': an evidence entry holds no passage after its URL line"),
    ({**claim("a"), "claim_string": " "}, "record line 1, field 'claim_string': empty or whitespace only"),
])
def test_bad_expertqa_records_are_one_line(tmp_path, row, message):
    path = tmp_path / "claims.jsonl"
    write(path, [row])
    with pytest.raises(DataError) as err:
        read_expertqa_claims(path)
    assert str(err.value) == f"{path}, {message}"


def test_duplicate_and_empty_sets_are_errors(tmp_path):
    path = tmp_path / "claims.jsonl"
    write(path, [claim("a"), claim("a")])
    with pytest.raises(DataError, match=r"record line 2, field 'item_id': item_id 'a' appears twice"):
        read_expertqa_claims(path)
    path.write_text("\n")
    with pytest.raises(DataError, match="the calibration set has no items"):
        read_expertqa_claims(path)


def test_generic_labelled_jsonl_with_several_annotators(tmp_path):
    path = tmp_path / "mine.jsonl"
    write(path, [
        {"id": "1", "question": "q", "context": "one passage", "claim": "c", "label": "yes", "group": "g1"},
        {"id": "2", "context": ["p1", "p2"], "answer": "a", "labels": [1, 0, 1]},
    ])
    one, two = read_labelled_jsonl(path)
    assert (one.context, one.labels, one.group) == (("one passage",), ("yes",), "g1")
    assert (two.context, two.claim, two.labels, two.group) == (("p1", "p2"), "a", (1, 0, 1), "2")


@pytest.mark.parametrize("row, message", [
    ({"id": "1", "context": "p", "claim": "c"}, "field 'label': give exactly one of label (one annotator) or labels"),
    ({"id": "1", "context": "p", "claim": "c", "label": "x", "labels": ["y"]}, "field 'label': give exactly one of label"),
    ({"id": "1", "context": "p", "claim": "c", "labels": []}, "field 'labels': expected a text, number or boolean label"),
    ({"id": "1", "context": "p", "claim": "c", "label": {"x": 1}}, "field 'label': expected a text, number or boolean label"),
    ({"id": "1", "context": "p", "claim": "c", "label": 1, "reference": [""]}, "field 'reference': expected a reference answer or a list of its aliases"),
    ({"id": "1", "context": [], "claim": "c", "label": 1}, "field 'context': expected a passage or a non-empty list of passages"),
    ({"id": "1", "context": "p", "label": 1}, "field 'answer': missing"),
])
def test_bad_generic_records_are_one_line(tmp_path, row, message):
    path = tmp_path / "mine.jsonl"
    write(path, [row])
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_labelled_jsonl(path)


def test_split_by_group_keeps_groups_whole_and_is_seeded(tmp_path):
    path = tmp_path / "claims.jsonl"
    write(path, [claim(f"q{q}:{c}", question=f"question {q}") for q in range(10) for c in range(3)])
    items = read_expertqa_claims(path)
    kept, held = split_by_group(items, 0.3, seed=7)
    assert len(held) == 9 and len(kept) == 21  # 3 of 10 groups, 3 claims each
    assert not {i.group for i in kept} & {i.group for i in held}
    assert (kept, held) == split_by_group(items, 0.3, seed=7)


def test_a_missing_set_is_one_line_saying_what_to_give(tmp_path):
    with pytest.raises(DataError) as err:
        read_labelled_jsonl(tmp_path / "nope.jsonl")
    assert str(err.value) == f"{tmp_path / 'nope.jsonl'}: calibration set not found (give ragsweep judge-eval --set the set's file)"


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[: len(raw) // 2] + b"\n", "record line 1: invalid JSON"),
    (lambda raw: raw.replace(b"claim", b"cl\xffim", 1), "not UTF-8: byte 0xff at byte offset"),
])
def test_a_calibration_file_damaged_on_disk_is_one_line(tmp_path, damage, message):
    path = tmp_path / "claims.jsonl"
    write(path, [claim("a")])
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError) as err:
        read_expertqa_claims(path)
    assert str(err.value).startswith(f"{path}") and message in str(err.value) and "\n" not in str(err.value)


def test_markup_in_a_claim_is_kept_as_text(tmp_path):
    path = tmp_path / "claims.jsonl"
    write(path, [claim("a", claim_string="<script>alert(1)</script> the pump moves water")])
    [item] = read_expertqa_claims(path)
    assert item.claim == "<script>alert(1)</script> the pump moves water"
