"""Fault injection, component contracts (issue 20 part 2): plugin components named by import path that return
garbage stop the run with one line naming the component, the document or query, and the rule broken; the
garbage is never cached or scored."""

from __future__ import annotations

import sys

import pytest

from ragsweep.errors import ConfigError, ContractError
from ragsweep.registry import TASKS
from tests.helpers import run

PLUGINS = '''
import math

from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
from ragsweep.retrievers.base import Retriever


class Shaped(FixedTokenChunker):
    """The real fixed-token chunks, then bent into the shape a test asks for."""

    def __init__(self, shape="twice", **params):
        super().__init__(**params)
        self.shape = shape

    def spans(self, doc):
        good = super().spans(doc)
        return {
            "twice": good + good,
            "reversed": good[::-1],
            "none": [],
            "past_end": good[:-1] + [(good[-1][0], len(doc.text) + 5)],
            "float": [(float(s), e + 0.5) for s, e in good],
        }[self.shape]


class Broken(FixedTokenChunker):
    def __init__(self, **params):
        raise RuntimeError("no licence key")


class Garbage(Retriever):
    """Rankings bent into the shape a test asks for."""

    def __init__(self, shape="repeat", **params):
        self.shape = shape

    def index(self, chunks):
        return len(chunks)

    def search(self, n, questions, k):
        good = [[(i, float(10 - i)) for i in range(min(k, n))] for _ in questions]
        shapes = {
            "repeat": lambda: [[(0, 1.0)] * 20 for _ in questions],
            "negative": lambda: [[(-1, 1.0)] for _ in questions],
            "past_end": lambda: [[(n, 1.0)] for _ in questions],
            "nan_score": lambda: [[(0, math.nan)] for _ in questions],
            "fewer": lambda: good[:1],
            "string_score": lambda: [[(0, "0.5")] for _ in questions],
            "ascending": lambda: [[(0, 1.0), (1, 2.0)] for _ in questions],
            "too_many": lambda: [[(i, 1.0) for i in range(k + 1)] for _ in questions],
        }
        return shapes[self.shape]()
'''


@pytest.fixture(scope="module", autouse=True)
def plugins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "badplug.py").write_text(PLUGINS)
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop("badplug", None)


def span_mini_documents() -> dict[str, str]:
    docs, _ = TASKS.build({"name": "chroma", "path": "bundled:span_mini", "questions": "questions_df.csv", "corpora": "corpora", "suffix": ".md"}).checked_load()
    return {d.doc_id: d.text for d in docs}


@pytest.mark.parametrize("shape, message", [
    ("twice", "document {doc!r}: chunk [0, {e0}) appears twice"),
    ("reversed", "document {doc!r}: chunk [{a}, {b}) comes after [{c}, {d}): chunks must be in document order"),
    ("none", "document {doc!r} ({n} characters) yielded no chunk"),
    ("past_end", "document {doc!r}: chunk [{last}, {over}) is empty or outside the document of length {n}"),
    ("float", "document {doc!r}: chunk offsets must be integers, got [0.0, {e0_float})"),
])
def test_a_chunker_that_returns_garbage_is_one_line_naming_it(tmp_path, shape, message):
    from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
    from ragsweep.types import Document

    doc, text = next(iter(span_mini_documents().items()))  # the first document in load order meets the check first
    good = FixedTokenChunker(size=128).spans(Document(doc, text))  # configs/chunker/fixed_tokens.yaml
    values = {"doc": doc, "n": len(text), "last": good[-1][0], "over": len(text) + 5, "e0": good[0][1], "e0_float": good[0][1] + 0.5,
              "a": good[-2][0], "b": good[-2][1], "c": good[-1][0], "d": good[-1][1]}
    with pytest.raises(ContractError) as err:
        run(tmp_path, "task=span_mini", "chunker=fixed_tokens", "chunker.name=badplug.Shaped", f"+chunker.shape={shape}", "generator=none")
    assert str(err.value) == "chunker badplug.Shaped: " + message.format(**values)
    assert not (tmp_path / "cache" / "chunk").exists() or not list((tmp_path / "cache" / "chunk").rglob("*.pkl"))


def test_a_constructor_that_raises_is_one_line_naming_class_and_config(tmp_path):
    with pytest.raises(ConfigError) as err:
        run(tmp_path, "task=span_mini", "chunker=fixed_tokens", "chunker.name=badplug.Broken", "generator=none")
    assert str(err.value).startswith("chunker 'badplug.Broken' (badplug.Broken) could not be built from {")
    assert str(err.value).endswith("}: RuntimeError: no licence key") and "'size': 128" in str(err.value)


@pytest.mark.parametrize("shape, message", [
    ("repeat", "query 'q0001': result 2: position 0 appears twice"),
    ("negative", "query 'q0001': result 1: position -1 is not an integer in 0..{last}"),
    ("past_end", "query 'q0001': result 1: position {n} is not an integer in 0..{last}"),
    ("nan_score", "query 'q0001': result 1: score nan is not a finite number"),
    ("fewer", "returned 1 rankings for 14 questions (one ranking per question)"),
    ("string_score", "query 'q0001': result 1: score '0.5' is not a finite number"),
    ("ascending", "query 'q0001': result 2: score 2.0 is above the previous 1.0 (best first)"),
    ("too_many", "query 'q0001': {over} results where at most {k} were asked for"),
])
def test_a_retriever_that_returns_garbage_is_one_line_and_nothing_is_cached(tmp_path, shape, message):
    with pytest.raises(ContractError) as err:
        run(tmp_path, "task=span_mini", "chunker=fixed_tokens", "retriever=bm25", "retriever.name=badplug.Garbage",
            f"+retriever.shape={shape}", "generator=none")
    chunks = len(list((tmp_path / "cache" / "chunk").rglob("*.cols.pkl")))
    assert chunks == 1 and not list((tmp_path / "cache").glob("retrieve/*/*.json.gz"))
    from ragsweep.store.cache import COLUMNS, StageCache  # how many chunks the search could address

    entry = next((tmp_path / "cache" / "chunk").rglob("*.cols.pkl"))
    n = StageCache(tmp_path / "cache").get_or_compute("chunk", entry.name.removesuffix(".cols.pkl"), lambda: None, COLUMNS)[0]["chunks"].num_rows
    k = 20  # configs/config.yaml top_k
    assert str(err.value) == "retriever badplug.Garbage: " + message.format(n=n, last=n - 1, k=k, over=k + 1)
