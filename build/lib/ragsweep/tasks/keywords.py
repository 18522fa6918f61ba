"""Keyword annotations (CoFE-RAG coarse and fine keywords) kept beside a suite in a versioned file.

Written by ``ragsweep keywords`` (an LLM pass over each query's gold evidence) and read back by
any run whose task config names it as ``keywords:``. A query whose data already carries keywords keeps
them. The file format::

    {"format": "ragsweep-keywords", "version": 1, "task": ..., "model": ..., "prompt_sha256": ...,
     "queries": {"<query_id>": {"coarse_keywords": [str], "fine_keywords": [[str]]}}}
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ragsweep.errors import DataError
from ragsweep.types import Query
from ragsweep.tasks.base import read_json, resolve_path

FORMAT = "ragsweep-keywords"
VERSION = 1


def split_task_config(task_cfg: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """(the task's own config, its keyword annotation file or None): ``keywords`` is read by the harness,
    not by the task class, so any suite can carry one."""
    own = dict(task_cfg)
    keywords = own.pop("keywords", None)
    return own, (resolve_path(keywords) if keywords else None)


def _strings(value: Any, path: Path, qid: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(path, "expected a list of strings", record=qid, field=field)
    return tuple(value)


def read_keywords(path: Path) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...], bool]]:
    """query id -> (coarse, fine groups, whether the fine keywords were a flat list of strings)."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(path, f"not a keyword annotation file (expected \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise DataError(path, f"keyword file version {data.get('version')!r}; this harness reads version {VERSION}", field="version")
    out = {}
    for qid, entry in (data.get("queries") or {}).items():
        if not isinstance(entry, dict):
            raise DataError(path, "expected an object", record=qid)
        coarse = _strings(entry.get("coarse_keywords"), path, qid, "coarse_keywords")
        fine_raw = entry.get("fine_keywords")
        if not isinstance(fine_raw, list):
            raise DataError(path, "expected a list of keyword groups", record=qid, field="fine_keywords")
        fine = tuple(_strings(g if isinstance(g, list) else [g], path, qid, "fine_keywords") for g in fine_raw)
        out[str(qid)] = (coarse, fine, bool(fine_raw) and all(isinstance(g, str) for g in fine_raw))
    return out


def apply_keywords(queries: list[Query], path: Path) -> list[Query]:
    annotations = read_keywords(path)
    known = {q.query_id for q in queries}
    stray = sorted(set(annotations) - known)
    if stray:
        raise DataError(path, f"{len(stray)} annotated queries are not in the suite", record=stray[0])
    out = []
    for q in queries:
        if q.query_id in annotations and not (q.keywords_coarse or q.keywords_fine):
            coarse, fine, flat = annotations[q.query_id]
            q = replace(q, keywords_coarse=coarse, keywords_fine=fine, metadata={**q.metadata, **({"keywords_flat": True} if flat else {})})
        out.append(q)
    return out
