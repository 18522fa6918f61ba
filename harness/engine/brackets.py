"""Headroom brackets: the run's own generator answering with no context (closed book), with the gold evidence
(oracle), and with every document whole where the suite fits a window (full documents), beside the context the run's
retrieval gives it. How much of the closed-book-to-oracle gap a configuration
closes is what its retrieval is worth to that generator, and what is left is retrieval's headroom.

The brackets' contexts depend on the suite and the generator only, so their generate stages are keyed by the load
key and the generator (not the chunker or retriever): a sweep answers each bracket once per suite and generator and
every configuration reuses it from the cache.
"""

from __future__ import annotations

from typing import Sequence

from ragsweep.errors import ConfigError
from ragsweep.types import Chunk, Document, Query

KINDS = ("closed_book", "oracle", "full_documents")
FULL_DOCUMENTS_MAX_TOKENS = 8192  # the whole suite as context only where it fits a window this size (cl100k tokens)


def check_brackets(names: Sequence[str]) -> list[str]:
    """The config's ``brackets`` list, checked before any work."""
    if not isinstance(names, (list, tuple)):
        raise ConfigError(f"brackets must be a list of {', '.join(KINDS)}, not {names!r}")
    for name in names:
        if name not in KINDS:
            raise ConfigError(f"brackets: unknown bracket {name!r}; the brackets are {', '.join(KINDS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"brackets: {list(names)} names a bracket twice")
    return list(names)


def oracle_context(query: Query, documents: dict[str, Document]) -> list[Chunk]:
    """The gold evidence as context: each gold span's text (in the order given), else each gold document whole. A
    question with neither has no oracle: one line naming it."""
    if query.gold_spans:
        return [Chunk(f"gold:{s.doc_id}:{s.start}-{s.end}", s.doc_id, s.start, s.end, documents[s.doc_id].text[s.start:s.end])
                for s in query.gold_spans]
    if query.gold_doc_ids:
        return [Chunk(f"gold:{d}", d, 0, len(documents[d].text), documents[d].text) for d in query.gold_doc_ids if d in documents]
    raise ConfigError(f"brackets: question {query.query_id!r} has no gold spans or documents to make an oracle context from "
                      "(brackets=[closed_book] needs none)")


def full_documents_context(documents: Sequence[Document], max_tokens: int) -> list[Chunk]:
    """Every document of the suite whole, in the suite's order: the long-context alternative to retrieval, where
    the suite fits ``max_tokens``; one line saying by how much it does not."""
    from ragsweep.text import tiktoken_encoding

    enc = tiktoken_encoding("cl100k_base")
    tokens = sum(len(enc.encode(d.text, disallowed_special=())) for d in documents)
    if tokens > max_tokens:
        raise ConfigError(f"brackets: full_documents needs the suite's {len(documents)} documents in one context, {tokens:,} tokens, over "
                          f"bracket_max_tokens={max_tokens:,}: raise it to the generator's window, or leave full_documents out")
    return [Chunk(f"doc:{d.doc_id}", d.doc_id, 0, len(d.text), d.text) for d in documents]


def bracket_contexts(kind: str, queries: Sequence[Query], documents: Sequence[Document],
                     max_tokens: int = FULL_DOCUMENTS_MAX_TOKENS) -> list[list[Chunk]]:
    """Each question's context in bracket ``kind``."""
    if kind == "closed_book":
        return [[] for _ in queries]
    if kind == "oracle":
        by_id = {d.doc_id: d for d in documents}
        return [oracle_context(q, by_id) for q in queries]
    if kind == "full_documents":
        whole = full_documents_context(documents, max_tokens)
        return [list(whole) for _ in queries]
    raise ConfigError(f"brackets: unknown bracket {kind!r}")
