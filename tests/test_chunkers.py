from __future__ import annotations

import pytest

from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
from ragsweep.chunkers.recursive import RecursiveChunker
from ragsweep.chunkers.sentences import SentenceGroupChunker
from ragsweep.errors import ConfigError
from ragsweep.text import tiktoken_encoding
from ragsweep.types import Document

TEXT = (
    "Hallowmere is a port town. It was founded in 1412 by salt traders. The lighthouse was completed in 1788!\n\n"
    "Calder Bay is a coastal city. Its harbour was rebuilt after 1953? Yes, it was."
)
THAI = "ผู้ใดทิ้งขยะหรือปล่อยน้ำเสียลงในแหล่งน้ำชุมชน ต้องระวางโทษปรับไม่เกินห้าหมื่นบาท " * 5


def _assert_exact(doc, chunks):
    for c in chunks:
        assert c.text == doc.text[c.start : c.end]
        assert c.doc_id == doc.doc_id


def test_fixed_token_windows_follow_size_and_overlap():
    enc = tiktoken_encoding("cl100k_base")
    doc = Document("d", TEXT)
    n_tokens = len(enc.encode(TEXT))
    chunks = FixedTokenChunker(size=10, overlap=4).chunk([doc], progress=False)
    _assert_exact(doc, chunks)
    # windows start every 6 tokens and stop at the first window that reaches the end
    assert len(chunks) == 1 + -(-(n_tokens - 10) // 6)
    assert all(len(enc.encode(c.text)) <= 10 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(TEXT)
    # consecutive windows overlap by 4 tokens
    assert len(enc.encode(TEXT[chunks[1].start : chunks[0].end])) == 4


def test_fixed_tokens_without_overlap_partition_the_text():
    doc = Document("d", TEXT)
    chunks = FixedTokenChunker(size=8, overlap=0).chunk([doc], progress=False)
    assert "".join(c.text for c in chunks) == TEXT
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:]))


def test_fixed_tokens_on_thai_keep_exact_offsets():
    doc = Document("th", THAI)
    chunks = FixedTokenChunker(size=7, overlap=2).chunk([doc], progress=False)
    _assert_exact(doc, chunks)
    assert "\ufffd" not in "".join(c.text for c in chunks)


def test_recursive_splits_on_paragraphs_then_sentences():
    doc = Document("d", TEXT)
    chunks = RecursiveChunker(size=120, overlap=0).chunk([doc], progress=False)
    _assert_exact(doc, chunks)
    assert all(len(c.text) <= 120 for c in chunks)
    assert chunks[0].text.startswith("Hallowmere")
    # the paragraph break is the first separator tried, so no chunk spans both paragraphs
    assert not any("Hallowmere" in c.text and "Calder" in c.text for c in chunks)


def test_recursive_in_tokens_bounds_token_length():
    doc = Document("d", TEXT * 3)
    enc = tiktoken_encoding("cl100k_base")
    chunks = RecursiveChunker(size=30, overlap=10, length="tokens").chunk([doc], progress=False)
    _assert_exact(doc, chunks)
    assert all(len(enc.encode(c.text)) <= 32 for c in chunks)  # piece sums can differ by a merge token
    assert len({c.start for c in chunks}) == len(chunks)


def test_sentence_groups():
    doc = Document("d", TEXT)
    chunks = SentenceGroupChunker(sentences_per_chunk=2).chunk([doc], progress=False)
    _assert_exact(doc, chunks)
    assert [c.text for c in chunks] == [
        "Hallowmere is a port town. It was founded in 1412 by salt traders.",
        "The lighthouse was completed in 1788!\n\nCalder Bay is a coastal city.",
        "Its harbour was rebuilt after 1953? Yes, it was.",
    ]


@pytest.mark.parametrize("cls,kwargs", [(FixedTokenChunker, {"size": 10, "overlap": 10}), (RecursiveChunker, {"size": 0})])
def test_bad_parameters_are_config_errors(cls, kwargs):
    with pytest.raises(ConfigError):
        cls(**kwargs)
