"""A deterministic chat backend that answers the assessor's four prompts by rule, so tests can compute every label
and nugget score by hand (a stand-in at the model boundary only: prompts, readers, store and scores are real).

- relevance: the grade written in the passage as ``[gN]``; else 3 if the passage holds the query's last word, else 0.
  A passage holding ``[garbage]`` gets prose (unreadable), ``[fail]`` a failed call.
- nuggets: one nugget per sentence of the passage (at most 3), as a bulleted list.
- importance: vital if the nugget holds a reference answer word, else okay.
- assignment: support if every word of the nugget is in the answer, partial_support if half, else not_support.
Every call is counted per kind in ``CALLS`` (per process).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

from ragsweep.llm.base import ChatBackend, Completion, Messages

CALLS: Counter[str] = Counter()
WORD = re.compile(r"\w+")


def _field(text: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*?)(?=\n\S[^\n]*: |\Z)", text, re.MULTILINE | re.DOTALL)
    return match.group(1).strip() if match else ""


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


SAMPLING = ("max_tokens", "temperature", "seed", "batch_size")


class ScriptedBackend(ChatBackend):
    def __init__(self, model: str, **params: Any):
        super().__init__(model, **{k: v for k, v in params.items() if k in SAMPLING})  # the preset's serving keys are not ours

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        return [self._one(c[-1]["content"]) for c in conversations]

    def _one(self, text: str) -> Completion:
        if text.startswith("Query: "):
            CALLS["relevance"] += 1
            passage = _field(text, "Passage")
            if "[fail]" in passage:
                return Completion("", error="scripted failure")
            if "[garbage]" in passage:
                return Completion("I would say it is fairly relevant.", 10, 8)
            grade = re.search(r"\[g([0-3])\]", passage)
            last = WORD.findall(_field(text, "Query"))[-1].lower()
            value = int(grade.group(1)) if grade else (3 if last in _words(passage) else 0)
            return Completion(f'{{"score": {value}}}', 10, 4)
        if "\nPassage: " in text:
            CALLS["nuggets"] += 1
            sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", _field(text, "Passage")) if s.strip()][:3]
            return Completion("\n".join(f"- {s.rstrip('.')}" for s in sentences), 10, 10)
        if "\nNugget: " in text and text.startswith("Question: ") and "\nAnswer: " not in text:
            CALLS["importance"] += 1
            vital = _words(_field(text, "Reference answer")) & _words(_field(text, "Nugget"))
            return Completion('{"importance": "%s"}' % ("vital" if vital else "okay"), 10, 4)
        CALLS["assignment"] += 1
        nugget, answer = _words(_field(text, "Nugget")), _words(_field(text, "Answer"))
        share = len(nugget & answer) / len(nugget) if nugget else 0.0
        label = "support" if share == 1 else "partial_support" if share >= 0.5 else "not_support"
        return Completion('{"label": "%s"}' % label, 10, 4)
