"""CoFE-RAG keyword recall/accuracy against hand-computed cases and a transcription of `find_gold`."""

from __future__ import annotations

import json
import random
import re

import pytest

from ragsweep.errors import DataError
from ragsweep.types import Query
from ragsweep.metrics.keywords import clean_text, keyword_scores
from ragsweep.tasks.keyword_file import apply_keywords


def test_clean_text_drops_punctuation_and_whitespace():
    assert clean_text("New York, N.Y.!") == "newyorkny"
    assert clean_text("一一 二") == "一二"


def test_scores_hand_computed():
    chunks = ["Tomas Hale was born in Calder Bay.", "Calder Bay is a coastal city.", "Nadia Orsk lives in Dunmoor."]
    coarse = ["Calder Bay"]
    fine = [["born", "Calder-Bay"], ["coastal city"], ["Dunmoor"]]
    s = keyword_scores(chunks, coarse, fine)
    # Chunk 3 lacks the coarse keyword, so "Dunmoor" is not in the pool: 2 of 3 groups hit.
    assert s.recall == pytest.approx(2 / 3) and s.accuracy == 0.0
    assert keyword_scores(chunks[:1], coarse, fine).recall == pytest.approx(1 / 3)
    assert keyword_scores(chunks, ["Dunmoor", "Calder"], fine).accuracy == 1.0


def test_flat_fine_list_is_read_as_groups_and_empty_lists_skip():
    assert keyword_scores(["alpha beta"], ["alpha"], ["alpha", "gamma"]).recall == 0.5
    assert keyword_scores(["alpha"], [], [["alpha"]]) is None and keyword_scores(["alpha"], ["alpha"], []) is None


def _reference_find_gold(chunks, coarse, fine):
    """A literal transcription of CoFE-RAG's matching loops (docs/metrics.md#keyword-coverage)."""
    def clean(t):
        return re.sub(r"[^\w\u4e00-\u9fa5]+", "", t).replace("一一", "一").lower()
    text = ""
    for c in chunks:
        for k in coarse:
            if clean(k) in clean(c):
                text += clean(c)
                break
    hit = 0
    all_in = True
    for group in fine:
        ok = True
        for k in group:
            if clean(k) not in text:
                ok = False
                all_in = False
        hit += ok
    return hit / len(fine), float(all_in)


def test_matches_reference_loops_on_random_cases():
    rng = random.Random(0)
    vocab = ["alpha", "beta", "gamma", "delta", "New York", "x-ray", "epsilon"]
    for _ in range(300):
        chunks = [" ".join(rng.choices(vocab, k=rng.randint(1, 5))) for _ in range(rng.randint(1, 4))]
        coarse = rng.sample(vocab, rng.randint(1, 2))
        fine = [rng.sample(vocab, rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]
        s = keyword_scores(chunks, coarse, fine)
        assert (s.recall, s.accuracy) == pytest.approx(_reference_find_gold(chunks, coarse, fine))


def _write(tmp_path, queries):
    path = tmp_path / "kw.json"
    path.write_text(json.dumps({"format": "ragsweep-keywords", "version": 1, "queries": queries}))
    return path


def test_apply_keywords_fills_only_queries_without_their_own(tmp_path):
    own = Query("q2", "?", keywords_coarse=("kept",), keywords_fine=(("kept",),))
    path = _write(tmp_path, {
        "q1": {"coarse_keywords": ["a"], "fine_keywords": [["b", "c"], "d"]},
        "q2": {"coarse_keywords": ["x"], "fine_keywords": [["y"]]},
    })
    q1, q2 = apply_keywords([Query("q1", "?"), own], path)
    assert q1.keywords_coarse == ("a",) and q1.keywords_fine == (("b", "c"), ("d",))
    assert q2 == own


def test_bad_keyword_file_names_file_record_and_field(tmp_path):
    path = _write(tmp_path, {"q1": {"coarse_keywords": "a", "fine_keywords": []}})
    with pytest.raises(DataError, match=r"kw.json, record q1, field 'coarse_keywords'"):
        apply_keywords([Query("q1", "?")], path)
    path = _write(tmp_path, {"zz": {"coarse_keywords": [], "fine_keywords": []}})
    with pytest.raises(DataError, match="not in the suite"):
        apply_keywords([Query("q1", "?")], path)


def test_a_run_scores_keywords_only_for_annotated_queries(tmp_path):
    from tests.helpers import run

    path = _write(tmp_path, {
        "q0001": {"coarse_keywords": ["AquaLift"], "fine_keywords": [["300 litres", "per minute"]]},
        "q0002": {"coarse_keywords": ["AquaLift"], "fine_keywords": [["1.6 litres"], ["no such phrase anywhere"]]},
    })
    run_dir, _ = run(tmp_path, "task=span_mini", f"task.keywords={path}", "retriever=bm25", "generator=none")
    records = __import__("pandas").read_parquet(run_dir / "records.parquet").set_index("query_id")
    summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
    assert records.loc["q0001", "keyword_recall@4"] == 1.0 and records.loc["q0001", "keyword_accuracy@4"] == 1.0
    assert records.loc["q0002", "keyword_recall@4"] == 0.5 and records.loc["q0002", "keyword_accuracy@all"] == 0.0
    assert records["keyword_recall@4"].notna().sum() == 2 and summary["keyword_queries"] == 2
