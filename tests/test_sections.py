"""NitiBench section metrics and citation scores against hand-computed cases (docs/metrics.md#nitibench)."""

from __future__ import annotations

import pytest

from ragsweep.chunkers.sections import SectionChunker
from ragsweep.errors import ConfigError
from ragsweep.scoring.sections import chunk_sections
from ragsweep.types import Chunk, Document
from ragsweep.metrics import citations as cit
from ragsweep.metrics import sections as sec
from ragsweep.tasks.nitibench import NitiBenchTask

GOLD = ["L-1", "L-2", "L-3"]
# five retrieved items; the third (a naive chunk) overlaps two gold sections at once
RANKED = [["L-9"], ["L-1"], ["L-2", "L-3"], ["L-1"], []]


def test_hit_multi_hit_recall_mrr():
    assert sec.hit_rate(RANKED, GOLD, 1) == 0.0 and sec.hit_rate(RANKED, GOLD, 2) == 1.0
    assert sec.multi_hit_rate(RANKED, GOLD, 2) == 0.0 and sec.multi_hit_rate(RANKED, GOLD, 3) == 1.0
    assert sec.section_recall(RANKED, GOLD, 2) == pytest.approx(1 / 3)
    assert sec.mrr(RANKED, GOLD, 5) == pytest.approx(1 / 2)
    assert sec.mrr(RANKED, GOLD, 1) == 0.0


def test_multi_mrr_by_hand():
    # hits: rank 2 (j=1) -> 1/(2-1+1) = 1/2; rank 3 brings two sections but is one hit (j=2) -> 1/(3-2+1) = 1/2
    # recall 3/3, two hits: 1 * (1/2 + 1/2) / 2 = 0.5; rank 4 brings nothing new.
    assert sec.multi_mrr(RANKED, GOLD, 5) == pytest.approx(0.5)
    assert sec.multi_mrr([["L-1"], ["L-2"], ["L-3"]], GOLD, 3) == pytest.approx(1.0)  # all at the top
    # recall 2/3, hits at ranks 1 and 3: (2/3) * (1 + 1/2) / 2
    assert sec.multi_mrr([["L-1"], ["x"], ["L-2"]], GOLD, 3) == pytest.approx((2 / 3) * 1.5 / 2)
    assert sec.multi_mrr([["x"]], GOLD, 1) == 0.0 and sec.multi_mrr([], GOLD, 5) == 0.0


def test_micro_recall_weights_by_gold_size():
    assert sec.micro_recall([1.0, 0.5], [1, 4]) == pytest.approx((1 + 2) / 5)


def test_citation_scores_correct_and_reference_swapped():
    gen, ref = [("L", "1"), ("L", "2"), ("L", "9")], [("L", "1"), ("L", "2"), ("L", "3"), ("L", "4")]
    s = cit.citation_scores(gen, ref)
    assert (s.precision, s.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 4))
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    swapped = cit.citation_scores(gen, ref, reference_swapped=True)
    assert (swapped.precision, swapped.recall, swapped.f1) == (pytest.approx(0.5), pytest.approx(2 / 3), pytest.approx(s.f1))


def test_citation_micro_and_macro():
    gens = [[("L", "1")], [], [("L", "5"), ("L", "6")]]
    refs = [[("L", "1"), ("L", "2")], [("L", "3")], [("L", "5")]]
    micro = cit.citation_micro(gens, refs)
    assert (micro.precision, micro.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 4))
    macro = cit.citation_macro(gens, refs)  # per query P: 1, 0 (0/0), 1/2; R: 1/2, 0, 1
    assert (macro.precision, macro.recall) == (pytest.approx(0.5), pytest.approx(0.5))
    assert macro.f1 == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)


def test_section_chunker_and_chunk_to_section_mapping():
    docs, queries = NitiBenchTask("bundled:thai_legal_mini", questions="questions.csv").load()
    chunks = SectionChunker().chunk(docs, progress=False)
    assert len(chunks) == 18
    law = docs[0].doc_id
    assert chunks[3].metadata == {"law": law, "section": "4"} and chunks[3].text.startswith(f"{law} มาตรา 4 ")
    sections = {d.doc_id: d.metadata["sections"] for d in docs}
    assert chunk_sections(chunks[3], sections) == [f"{law}-4"]
    # a chunk straddling the end of section 1 and the start of section 2 maps to both
    s1_end = sections[law][0][2]
    straddle = Chunk("x", law, s1_end - 5, s1_end + 10, "")
    assert chunk_sections(straddle, sections) == [f"{law}-1", f"{law}-2"]
    with pytest.raises(ConfigError, match="needs documents with section ranges"):
        SectionChunker().chunk([Document("d", "text")], progress=False)
