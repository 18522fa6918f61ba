"""LLM assessments kept by content, not by run: a relevance label per (query text, chunk text, assessor), nuggets
per (query, gold, assessor), a nugget assignment per (query, answer, nugget, assessor).

A label made for one chunker's chunk therefore serves every chunker and retriever that returns the same text, and a
sweep pays for each distinct (query, chunk text) once. The assessor's identity (its prompts with their versions,
its model without serving settings, decoding, and the code of the assessor and its backend) is in every key, so
an edited prompt or module is never served an old label. Only readable replies are stored: an invalid reply or a
failed call is counted by the run and asked again by the next. Entries are checksummed files in the stage cache's
layout (a damaged one is moved aside and recomputed).
"""

from __future__ import annotations

from typing import Any

from ragsweep.hashing import sha256_json
from ragsweep.store.cache import JSON, StageCache, read_checked, write_checked


class AssessmentStore:
    def __init__(self, cache: StageCache, identity: dict[str, Any]):
        self.cache = cache
        self.identity = sha256_json(identity)

    def key(self, **parts: Any) -> str:
        return sha256_json({"assessor": self.identity, **parts})

    def get(self, kind: str, key: str) -> Any | None:
        ok, value = read_checked(self.cache.path(f"assess_{kind}", key, JSON), JSON.load)
        return value if ok else None

    def put(self, kind: str, key: str, value: Any) -> None:
        write_checked(self.cache.path(f"assess_{kind}", key, JSON), JSON.dump(value))
