"""The switches that reproduce the span-QA reference code's published numbers (Jadon et al.), on hand-made cases:
its chunk relocation (a chunk placed at an earlier repeat of its text, one character short, found by the
fallbacks or not at all) and its scoring of bad references (a span past the corpus end kept whole, a row without
references scored recall 1, IoU 0, Omega 0)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from ragsweep.metrics.relocation import reference_search, token_sort_ratio
from tests.helpers import run

TEXT = "Red fox runs. Blue sky here. Red fox runs. Green tree stands."  # 61 characters


@pytest.mark.parametrize("target,expected", [
    ("Red fox runs.", (0, 12)),                 # trailing '.' dropped, first occurrence
    ("Blue sky here.", (14, 27)),
    ("blue   SKY\nhere", (14, 27)),             # words with any whitespace, any case
    ("sky Blue here", (14, 27)),                # only the fuzzy fallback (token sort) finds it: the piece, placed
    ("Green tree stand", (43, 59)),             # exact prefix
    ("Purple rain falls", None),                # nothing scores 98
    (".", (0, 0)),                              # an empty target is found at 0: an empty chunk
])
def test_reference_search_by_hand(target, expected):
    assert reference_search(TEXT, target) == expected


def test_token_sort_ratio_follows_fuzzywuzzy():
    assert token_sort_ratio("b a", "a b") == 100
    assert token_sort_ratio("ab", "a\xa0b") == 100  # a no-break space in the choice is dropped (ascii processing) ...
    assert token_sort_ratio("a\xa0b", "a b") == 100  # ... in the query it became a space first (extractOne's processor)
    assert token_sort_ratio("", "") == 100 and token_sort_ratio("x", "") == 0
    assert token_sort_ratio("abcd", "abce") == 75  # Indel: 2 * 3 / 8


def _suite(root: Path, rows: list[tuple[str, list[dict]]]) -> Path:
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "corpora" / "c1.md").write_text(TEXT, "utf-8")
    with open(root / "questions_df.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["question", "references", "corpus_id"])
        for question, refs in rows:
            writer.writerow([question, json.dumps(refs), "c1"])
    return root


ROWS = [
    ("Which fox runs?", [{"content": "Red fox runs.", "start_index": 29, "end_index": 42}]),
    ("Nothing?", []),
    ("Which tree?", [{"content": "Green tree stands. And more", "start_index": 43, "end_index": 70}]),
]


def _scores(tmp_path: Path, *overrides: str) -> pd.DataFrame:
    suite = _suite(tmp_path / "suite", ROWS)
    run_dir, _ = run(tmp_path, "task=span_mini", f"task.path={suite}", "~task.keywords", "chunker=sentences", "chunker.splitter=jadon",
                     "chunker.sentences_per_chunk=1", "retriever=bm25", "generator=none", *overrides)
    return pd.read_parquet(run_dir / "records.parquet").set_index("question")


def test_the_reference_relocation_misplaces_a_repeated_chunk(tmp_path):
    exact = _scores(tmp_path, "task.on_invalid_reference=reference")
    moved = _scores(tmp_path, "task.on_invalid_reference=reference", "chunker.locate=reference", "span_chunk_ranges=reference")
    # exact ranges: the third chunk [29, 42) is the gold span itself
    assert exact.loc["Which fox runs?", "precision_omega"] == 1.0 and exact.loc["Which fox runs?", "span_recall@5"] == 1.0
    # the reference places it at the first "Red fox runs" [0, 12): nothing touches the gold span
    assert moved.loc["Which fox runs?", "precision_omega"] == 0.0 and moved.loc["Which fox runs?", "span_recall@5"] == 0.0
    # the last chunk ends one character early there: covered 17 of the 27-character past-end span
    assert moved.loc["Which tree?", "span_recall@5"] == pytest.approx(17 / 27)


def test_bad_references_scored_as_the_reference_scores_them(tmp_path):
    scores = _scores(tmp_path, "task.on_invalid_reference=reference")
    # a row without references: recall 1, precision 0, IoU 0, Omega 0, in every mean
    assert scores.loc["Nothing?", ["span_recall@5", "span_precision@5", "span_iou@5", "precision_omega"]].tolist() == [1.0, 0.0, 0.0, 0.0]
    # [43, 70) runs 9 characters past the 61-character corpus and keeps them: the last chunk [43, 61) covers 18
    tree = scores.loc["Which tree?"]
    retrieved = 13 + 14 + 13 + 18  # all four chunks are in the top 5
    assert tree["span_recall@5"] == pytest.approx(18 / 27)
    assert tree["span_precision@5"] == pytest.approx(18 / retrieved)
    assert tree["span_iou@5"] == pytest.approx(18 / (retrieved + 9))
    assert tree["precision_omega"] == pytest.approx(18 / 27)
    clipped = _scores(tmp_path / "clip", "task.on_invalid_reference=clip")
    assert clipped.loc["Which tree?", "span_recall@5"] == 1.0  # clip cuts the span to the corpus
    assert pd.isna(clipped.loc["Nothing?", "span_recall@5"])  # and leaves a row without references unscored


def test_switch_faults_are_one_line(tmp_path):
    from ragsweep.errors import ConfigError

    with pytest.raises(ConfigError, match="chunker.locate=reference reproduces Jadon et al.'s relocation and needs chunker.splitter=jadon"):
        run(tmp_path, "task=span_mini", "chunker=sentences", "chunker.locate=reference")
    with pytest.raises(ConfigError, match="span_chunk_ranges=reference needs each chunk's reference range"):
        run(tmp_path, "task=span_mini", "chunker=fixed_tokens", "span_chunk_ranges=reference", "generator=none")


def test_punkt_keeps_the_leading_whitespace_of_the_first_sentence():
    from ragsweep.text import sentence_spans

    text = "  \nHello world. Bye now.  "
    assert sentence_spans(text, "en", "punkt") == [(0, 15), (16, 24)]
    assert sentence_spans(text, "en", "jadon") == [(3, 15), (16, 24)]  # other splitters strip
