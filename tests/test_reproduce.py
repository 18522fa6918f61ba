"""What separates a ragsweep run from a paper's own setting (issue 14), pinned on hand-built cases:
sentence splitters, Meta-Chunking's dynamic threshold and long-sentence guard, NitiBench's chunk-to-section
rule, CoFE-RAG's edge cases, and the reproduce presets."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ragsweep.chunkers.perplexity import find_minima, truncate_sentence
from ragsweep.chunkers.sentences import SentenceGroupChunker
from ragsweep.errors import ConfigError
from ragsweep.scoring.sections import chunk_sections
from ragsweep.text import sentence_spans
from ragsweep.types import Chunk, Document
from ragsweep.metrics.keywords import KeywordScores, keyword_scores

REPO = Path(__file__).resolve().parent.parent


def _texts(text: str, splitter: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text, "en", splitter)]


def test_jadon_splits_only_after_sentence_punctuation():
    text = "## Results\n\nThe pump ran. It stopped? Yes!\nNext line"
    assert _texts(text, "default") == ["## Results", "The pump ran.", "It stopped?", "Yes!", "Next line"]
    assert _texts(text, "jadon") == ["## Results\n\nThe pump ran.", "It stopped?", "Yes!", "Next line"]


def test_punkt_keeps_abbreviations_as_nltk_does():
    text = "Mr. Smith met Dr. Jones at 3 p.m. on Jan. 5. They spoke. The U.S. economy grew."
    assert _texts(text, "punkt") == ["Mr. Smith met Dr. Jones at 3 p.m. on Jan. 5.", "They spoke.", "The U.S. economy grew."]
    assert len(_texts(text, "jadon")) == 8  # the regex splits after every abbreviation
    assert _texts(text, "pysbd")[1:] == ["They spoke.", "The U.S. economy grew."]


@pytest.mark.parametrize("splitter", ["default", "jadon", "punkt", "pysbd"])
def test_every_splitter_returns_exact_offsets(splitter):
    text = "  First one.  Second, with Mr. Brown.\n\nThird line!  "
    spans = sentence_spans(text, "en", splitter)
    if splitter == "punkt":  # NLTK's first sentence keeps the document's leading whitespace
        assert text[: spans[0][1]] == "  First one." and spans[0][0] == 0
        spans = spans[1:]
    for s, e in spans:
        assert text[s:e] == text[s:e].strip() and text[s:e]


def test_splitter_is_checked_when_the_chunker_is_built():
    with pytest.raises(ConfigError, match="unknown sentence splitter 'nltk'"):
        SentenceGroupChunker(splitter="nltk")
    with pytest.raises(ConfigError, match="English-only"):
        SentenceGroupChunker(language="th", splitter="punkt")


def test_sentence_chunker_with_the_jadon_splitter_groups_regex_sentences():
    doc = Document("d", "A one. B two.\n\nC three. D four. E five.")
    spans = SentenceGroupChunker(sentences_per_chunk=2, splitter="jadon").spans(doc)
    assert [doc.text[s:e] for s, e in spans] == ["A one. B two.", "C three. D four.", "E five."]
    spans = SentenceGroupChunker(sentences_per_chunk=2, splitter="default").spans(doc)
    assert [doc.text[s:e] for s, e in spans] == ["A one. B two.", "C three. D four.", "E five."]


def test_dynamic_threshold_records_the_left_drop_on_a_plateau():
    drops: list[float] = []
    assert find_minima([3, 1, 1, 2], 0.0, drops) == ([1], 0.0)
    assert drops == [2]  # the reference records [2]; min(left, right) would record [0]


def _reference_dynamic(values, threshold, zlist):
    """The reference's find_minima_dynamic, written out from its code (docs/metrics.md#meta-chunking): the
    threshold becomes min(zlist) inside the loop, whenever zlist holds 100 or more drops."""
    minima = []
    for i in range(1, len(values) - 1):
        if values[i] < values[i - 1] and values[i] < values[i + 1]:
            if values[i - 1] - values[i] >= threshold or values[i + 1] - values[i] >= threshold:
                minima.append(i)
                zlist.append(min(values[i - 1] - values[i], values[i + 1] - values[i]))
        elif values[i] < values[i - 1] and values[i] == values[i + 1]:
            if values[i - 1] - values[i] >= threshold:
                minima.append(i)
                zlist.append(values[i - 1] - values[i])
        if len(zlist) >= 100:
            threshold = min(zlist)
    return minima, threshold


def test_dynamic_threshold_updates_inside_the_scan():
    # 100 deep minima (drop 5), then 20 shallow ones (drop 1): the reference raises the threshold to 5 at the
    # 100th minimum and rejects the 20 shallow ones of the same document.
    ppl = [10.0]
    for _ in range(100):
        ppl += [5.0, 10.0]
    for _ in range(20):
        ppl += [9.0, 10.0]
    drops: list[float] = []
    minima, threshold = find_minima(ppl, 0.0, drops)
    assert len(minima) == 100 and threshold == 5.0
    assert (minima, threshold) == _reference_dynamic(ppl, 0.0, [])


def test_dynamic_threshold_matches_the_reference_across_documents():
    rng = random.Random(7)
    ours: list[float] = []
    ref: list[float] = []
    t_ours = t_ref = 0.0
    for _ in range(30):
        doc = [round(rng.uniform(0, 3), 1) for _ in range(rng.randint(3, 40))]
        m1, t_ours = find_minima(doc, t_ours, ours)
        m2, t_ref = _reference_dynamic(doc, t_ref, ref)
        assert m1 == m2 and t_ours == t_ref
    assert ours == ref and len(ours) >= 100


def test_long_sentences_are_truncated_as_the_reference_does():
    assert truncate_sentence("a b c") == "a b c"
    words = [f"w{i}" for i in range(600)]
    assert truncate_sentence(" ".join(words)) == " ".join(words[:512]) + "..."
    words = [f"w{i}" for i in range(1100)]
    assert truncate_sentence(" ".join(words)) == " ".join(words[:256]) + "..."


def test_section_mapping_overlap_vs_contained():
    # sections of law L: 1 = [0, 100), 2 = [102, 300), 3 = [302, 350)
    sections = {"L": [["1", 0, 100], ["2", 102, 300], ["3", 302, 350]]}
    chunk = Chunk("L#0", "L", 50, 310, "x" * 260)
    assert chunk_sections(chunk, sections, "overlap") == ["L-1", "L-2", "L-3"]
    assert chunk_sections(chunk, sections, "contained") == ["L-2"]
    edge = Chunk("L#1", "L", 100, 302, "x" * 202)  # touches 1 and 3 without sharing a character
    assert chunk_sections(edge, sections, "overlap") == ["L-2"] and chunk_sections(edge, sections, "contained") == ["L-2"]


def test_both_section_rules_are_scored_in_a_run(tmp_path):
    import pandas as pd

    from tests.helpers import run

    run_dir, _ = run(tmp_path, "task=thai_legal_mini", "chunker=nitibench_naive", "retriever=bm25", "generator=none")
    records = pd.read_parquet(run_dir / "records.parquet")
    assert {"section_hit@10", "section_hit_contained@10", "section_multi_mrr_contained@10"} <= set(records.columns)
    assert (records["section_hit_contained@10"] <= records["section_hit@10"]).all()
    run_dir, _ = run(tmp_path, "task=thai_legal_mini", "chunker=nitibench_naive", "retriever=bm25", "generator=none", "section_mapping=contained")
    swapped = pd.read_parquet(run_dir / "records.parquet")
    assert swapped["section_hit@10"].tolist() == records["section_hit_contained@10"].tolist()
    assert swapped["section_hit_overlap@10"].tolist() == records["section_hit@10"].tolist()
    with pytest.raises(ConfigError, match="section_mapping must be overlap or contained"):
        run(tmp_path, "task=thai_legal_mini", "section_mapping=any")


def test_cofe_rag_reference_compat_edge_cases():
    chunks = ["alpha beta gamma"]
    # empty coarse or fine: skipped by default, a miss in the reference's denominator
    assert keyword_scores(chunks, [], [["alpha"]]) is None
    assert keyword_scores(chunks, [], [["alpha"]], reference_compat=True) == KeywordScores(0.0, 0.0)
    assert keyword_scores(chunks, ["alpha"], [], reference_compat=True) == KeywordScores(0.0, 0.0)
    # an empty inner group: ignored by default, a hit in the reference
    assert keyword_scores(chunks, ["alpha"], [["beta"], [], ["delta"]]).recall == 0.5
    assert keyword_scores(chunks, ["alpha"], [["beta"], [], ["delta"]], reference_compat=True).recall == pytest.approx(2 / 3)
    # a flat fine list: one group per keyword by default; recall 0 in the reference, accuracy still read
    flat = [["beta"], ["gamma"]]
    assert keyword_scores(chunks, ["alpha"], flat).recall == 1.0
    assert keyword_scores(chunks, ["alpha"], flat, reference_compat=True, flat=True) == KeywordScores(0.0, 1.0)


def test_flat_keyword_files_are_flagged_for_the_reference_mode(tmp_path):
    import json

    from ragsweep.types import Query
    from ragsweep.tasks.keyword_file import FORMAT, VERSION, apply_keywords

    path = tmp_path / "kw.json"
    path.write_text(json.dumps({"format": FORMAT, "version": VERSION, "queries": {
        "a": {"coarse_keywords": ["x"], "fine_keywords": ["y", "z"]}, "b": {"coarse_keywords": ["x"], "fine_keywords": [["y"]]}}}))
    a, b = apply_keywords([Query("a", "q?"), Query("b", "q?")], path)
    assert a.keywords_fine == (("y",), ("z",)) and a.metadata == {"keywords_flat": True} and b.metadata == {}


@pytest.mark.parametrize("preset", sorted(p.stem for p in (REPO / "configs" / "sweep").glob("reproduce_*.yaml")))
def test_reproduce_presets_compose(preset):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose("config", overrides=[f"+sweep={preset}"], return_hydra_config=True)
    assert cfg.sweep_name == preset and cfg.hydra.sweeper.params
