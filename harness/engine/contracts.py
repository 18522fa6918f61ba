"""What each stage's component must return, checked between stages for built-in and plugin components alike.

A component that breaks its contract stops the run with one line naming the component, the document or
query, and the rule broken, before anything it returned is cached or scored:

- chunker: integer ``[start, end)`` ranges inside their document, in document order, each range once
  (overlap is allowed); a document with text yields at least one chunk.
- retriever: one ranking per question; positions are integers in range, each once, at most ``top_k`` of
  them; scores are finite numbers, best first (non-increasing).
- reranker: the same, over the candidates it was given.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from ragsweep.errors import ContractError
from ragsweep.types import Chunk, Document, as_offset, checked_range


def component_name(family: str, component: object) -> str:
    cls = type(component)
    registered = vars(cls).get("registry_name")  # its own registration, not a registered parent's
    where = f"{cls.__module__}.{cls.__qualname__}"
    return f"{family} {registered!r} ({where})" if registered and registered != where else f"{family} {where}"


def check_chunks(chunker: object, documents: Sequence[Document], chunks: Sequence[Any]) -> None:
    name = component_name("chunker", chunker)
    texts = {d.doc_id: d.text for d in documents}
    by_doc: dict[str, list[tuple[int, int]]] = {}
    ids: set[str] = set()
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, Chunk):
            raise ContractError(f"{name}: chunk {i} is a {type(chunk).__name__}, not a Chunk (build chunks with ragsweep.types.make_chunk)")
        if chunk.doc_id not in texts:
            raise ContractError(f"{name}: chunk {chunk.chunk_id!r} names document {chunk.doc_id!r}, which is not in the corpus")
        if chunk.chunk_id in ids:
            raise ContractError(f"{name}: document {chunk.doc_id!r}: chunk id {chunk.chunk_id!r} appears twice")
        ids.add(chunk.chunk_id)
        try:
            span = checked_range(chunk.doc_id, len(texts[chunk.doc_id]), chunk.start, chunk.end)
        except ContractError as err:
            raise named("chunker", chunker, err) from None
        by_doc.setdefault(chunk.doc_id, []).append(span)
    for doc_id, text in texts.items():
        ranges = by_doc.get(doc_id, [])
        if not ranges and text.strip():
            raise ContractError(f"{name}: document {doc_id!r} ({len(text)} characters) yielded no chunk")
        seen: set[tuple[int, int]] = set()
        for start, end in ranges:
            if (start, end) in seen:
                raise ContractError(f"{name}: document {doc_id!r}: chunk [{start}, {end}) appears twice")
            seen.add((start, end))
        for before, after in zip(ranges, ranges[1:]):
            if after < before:
                raise ContractError(f"{name}: document {doc_id!r}: chunk [{after[0]}, {after[1]}) comes after [{before[0]}, {before[1]}): chunks must be in document order")


def named(family: str, component: object, err: ContractError) -> ContractError:
    """A ContractError raised inside a component (by make_chunk, say), with the component's name in front."""
    return ContractError(f"{component_name(family, component)}: {err}")


def check_rankings(
    family: str, component: object, query_ids: Sequence[str], ranked: Any, candidates: int, top_k: int
) -> list[list[tuple[int, float]]]:
    """The rankings as plain ``(position, score)`` lists, once each has passed the contract."""
    name = component_name(family, component)
    if not isinstance(ranked, (list, tuple)) or len(ranked) != len(query_ids):
        got = f"{len(ranked)} rankings" if isinstance(ranked, (list, tuple)) else f"a {type(ranked).__name__}"
        raise ContractError(f"{name}: returned {got} for {len(query_ids)} questions (one ranking per question)")
    return [check_ranking(name, qid, ranking, candidates, top_k) for qid, ranking in zip(query_ids, ranked)]


def check_ranking(name: str, query_id: str, ranking: Any, candidates: int, top_k: int) -> list[tuple[int, float]]:
    where = f"{name}: query {query_id!r}"
    if not isinstance(ranking, (list, tuple)):
        raise ContractError(f"{where}: a ranking must be a list of (position, score) pairs, got a {type(ranking).__name__}")
    if len(ranking) > top_k:
        raise ContractError(f"{where}: {len(ranking)} results where at most {top_k} were asked for")
    out: list[tuple[int, float]] = []
    seen: set[int] = set()
    for rank, pair in enumerate(ranking, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ContractError(f"{where}: result {rank} is not a (position, score) pair: {pair!r}"[:300])
        position, score = as_offset(pair[0]), pair[1]
        if position is None or not 0 <= position < candidates:
            raise ContractError(f"{where}: result {rank}: position {pair[0]!r} is not an integer in 0..{candidates - 1}")
        if position in seen:
            raise ContractError(f"{where}: result {rank}: position {position} appears twice")
        seen.add(position)
        if isinstance(score, bool) or not isinstance(score, numbers.Real) or not math.isfinite(float(score)):
            raise ContractError(f"{where}: result {rank}: score {score!r} is not a finite number")
        if out and float(score) > out[-1][1]:
            raise ContractError(f"{where}: result {rank}: score {float(score)!r} is above the previous {out[-1][1]!r} (best first)")
        out.append((position, float(score)))
    return out


def check_selection(name: str, query_id: str, chosen: Any, candidates: int) -> list[int]:
    """A selector's choice as plain positions: a list of distinct integers in 0..candidates - 1."""
    where = f"{name}: query {query_id!r}"
    if not isinstance(chosen, (list, tuple)):
        raise ContractError(f"{where}: a selection must be a list of positions, got a {type(chosen).__name__}")
    out: list[int] = []
    for i, item in enumerate(chosen, start=1):
        position = as_offset(item)
        if position is None or not 0 <= position < candidates:
            raise ContractError(f"{where}: item {i}: {item!r} is not a position in 0..{candidates - 1}"[:300])
        if position in out:
            raise ContractError(f"{where}: item {i}: position {position} appears twice")
        out.append(position)
    return out
