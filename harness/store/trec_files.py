"""TREC run and qrels files, written from a run folder and read back, so any trec_eval-based tool (trec_eval,
pytrec_eval, ir_measures, ranx) can score a ragsweep run and ragsweep can read a track's qrels.

Run file: one line per retrieved item, ``query_id Q0 item_id rank score run_tag``. Qrels file: one line per
label, ``query_id 0 item_id grade``. Fields are separated by whitespace, so an id holding whitespace or ``%``
(HotpotQA titles, chunk ids made of them) is written percent-encoded (``Tidewater%20Institute#0``) and decoded
on reading; ids without such characters are written as they are.

Ordering: trec_eval ignores the rank column and orders a query's items by score, descending, ties broken by
item id, descending. ``read_run`` orders them the same way, so what ``evaluate`` computes from the files is what
trec_eval would. trec_eval holds scores as 32-bit floats, so two scores that differ only beyond float32's precision tie
there. So that trec_eval keeps the run's own order, ``run_lines`` writes each score as the float32 nearest it, and
one that would tie with (or rise above) the one written before it one float32 step below that: the scores are the
run's to float32 precision, and ties are broken in rank order by the smallest amount trec_eval can see.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote, unquote

import numpy as np

from ragsweep.errors import DataError
from ragsweep.metrics.trec import RELEVANT_FROM, graded_ndcg_at_k, judged_at_k, precision_at_k
from ragsweep.data_files import read_text

_NEEDS_QUOTING = re.compile(r"[\s%]")

Run = dict[str, list[str]]  # query id -> item ids in trec_eval's order
Qrels = dict[str, dict[str, int]]  # query id -> item id -> grade


def encode_id(value: str) -> str:
    return quote(value, safe="") if _NEEDS_QUOTING.search(value) else value


def run_lines(rankings: Iterable[tuple[str, Sequence[str], Sequence[float]]], tag: str) -> list[str]:
    """(query id, item ids in rank order, scores) -> run file lines."""
    if not tag or _NEEDS_QUOTING.search(tag):
        raise ValueError(f"a run tag must be one word without '%', not {tag!r}")
    lines = []
    for qid, items, scores in rankings:
        previous = np.float32(np.inf)
        for rank, (item, score) in enumerate(zip(items, scores), start=1):
            written = min(np.float32(score), np.nextafter(previous, np.float32(-np.inf)))
            lines.append(f"{encode_id(qid)} Q0 {encode_id(item)} {rank} {float(written)!r} {tag}")
            previous = written
    return lines


def qrels_lines(labels: Mapping[str, Mapping[str, int]]) -> list[str]:
    """query id -> {item id: grade} -> qrels lines, queries and items in sorted order."""
    return [f"{encode_id(qid)} 0 {encode_id(item)} {int(grade)}" for qid in sorted(labels) for item, grade in sorted(labels[qid].items())]


def _fields(path: Path, n: int, names: str) -> Iterable[tuple[int, list[str]]]:
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != n:
            raise DataError(path, f"expected {n} fields ({names}), got {len(fields)}", record=f"line {number}")
        yield number, [unquote(f) for f in fields]


def read_qrels(path: Path) -> Qrels:
    """A graded qrels file; a non-integer grade or an item labelled twice for one query is one line naming it."""
    qrels: Qrels = {}
    for number, (qid, _, item, grade) in _fields(path, 4, "query_id iteration item_id grade"):
        try:
            value = int(grade)
        except ValueError:
            raise DataError(path, f"grade {grade!r} is not an integer", record=f"line {number}", field="grade") from None
        if item in qrels.setdefault(qid, {}):
            raise DataError(path, f"query {qid!r} labels {item!r} twice", record=f"line {number}", field="item_id")
        qrels[qid][item] = value
    return qrels


def read_run(path: Path) -> Run:
    """A run file, each query's items in trec_eval's order (score descending, ties by item id descending)."""
    return {qid: [item for item, _ in items] for qid, items in read_scored_run(path).items()}


def read_scored_run(path: Path) -> dict[str, list[tuple[str, float]]]:
    """A run file as (item, float32 score) per query in trec_eval's order; a bad score or an item retrieved twice
    for one query is one line naming it."""
    scored: dict[str, list[tuple[float, str]]] = {}
    for number, (qid, _, item, _rank, score, _tag) in _fields(path, 6, "query_id Q0 item_id rank score run_tag"):
        try:
            value = float(score)
        except ValueError:
            raise DataError(path, f"score {score!r} is not a number", record=f"line {number}", field="score") from None
        if value != value:
            raise DataError(path, "score is NaN", record=f"line {number}", field="score")
        if any(existing == item for _, existing in scored.get(qid, ())):
            raise DataError(path, f"query {qid!r} retrieves {item!r} twice", record=f"line {number}", field="item_id")
        scored.setdefault(qid, []).append((float(np.float32(value)), item))  # trec_eval compares float32 scores
    return {qid: [(item, score) for score, item in sorted(items, key=lambda p: (p[0], p[1]), reverse=True)] for qid, items in scored.items()}


def evaluate(run: Run, qrels: Qrels, k: Sequence[int], relevant_from: int = RELEVANT_FROM) -> dict[str, dict[str, float]]:
    """trec_eval's ndcg_cut.k, P.k and recall.k (both ``-l relevant_from``) and judged@k per query of the run that
    the qrels label; nDCG is left out for a query with no positive label (trec_eval skips it), recall is 0 for a
    query with nothing relevant (as trec_eval writes it). Recall here counts the top k items of the file: over a
    document-level run, the top k documents (a chunk-level metric such as ``doc_recall@k`` counts the documents of
    the top k chunks instead)."""
    out: dict[str, dict[str, float]] = {}
    for qid, ranked in run.items():
        labels = qrels.get(qid)
        if labels is None:
            continue
        row: dict[str, float] = {}
        for cut in k:
            ndcg = graded_ndcg_at_k(ranked, labels, cut)
            if ndcg is not None:
                row[f"ndcg_cut.{cut}"] = ndcg
            row[f"P.{cut}"] = precision_at_k(ranked, labels, cut, relevant_from)
            relevant = sum(1 for grade in labels.values() if grade >= relevant_from)
            row[f"recall.{cut}"] = precision_at_k(ranked, labels, cut, relevant_from) * cut / relevant if relevant else 0.0
            row[f"judged.{cut}"] = judged_at_k(ranked, labels, cut)
        out[qid] = row
    return out
