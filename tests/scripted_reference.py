"""A deterministic model for the reference packages' prompts (UMBRELA's and Nuggetizer's), replying by rule and in
the awkward shapes real models reply in, so that the same replies can be fed to the released packages' own code and
to ragsweep's reference mode (a stand-in at the model boundary only).

- UMBRELA: grade 3 when the passage holds the query's last word, else 0; written as ``{"M": 2, "T": 1, "O": n}``
  (upper-case keys: UMBRELA lowercases before parsing), as ``##final score: n`` when the passage holds "Eilean"
  (0.0.7's parser cannot read it: grade 0), and as prose when it holds "[garbage]".
- Nugget creation: the first clause of each context line (at most 12 words) joined to the initial list, in a
  ```python fence when the query holds "fence"; prose (unreadable) when the query holds "unlistable".
- Importance: "Vital" for a nugget holding a digit or a word of four capitals, else "okay"; one label short when
  the query holds "short" (the reference then drops the last nugget).
- Assignment: SUPPORT when every word of the nugget is in the passage, partial_support when half, else not_support;
  ``not a list`` (unreadable) when the passage holds "garble".
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from typing import Any, Sequence

from ragsweep.llm.base import ChatBackend, Completion, Messages
from tests.scripted_assessor import SAMPLING

WORD = re.compile(r"\w+")
CALLS: Counter[str] = Counter()
BATCHES: list[int] = []  # the size of every batch the backend was sent


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def _line(text: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}: (.*)$", text, re.MULTILINE)
    return match.group(1) if match else ""


def reply(messages: Sequence[dict[str, str]]) -> str:
    system, user = messages[0]["content"], messages[-1]["content"]
    if "NuggetizeLLM" in system:
        CALLS["create"] += 1
        query = _line(user, "Search Query")
        if "unlistable" in query:
            return "Here are the nuggets you asked for."
        initial = ast.literal_eval(_line(user, "Initial Nugget List"))
        context = user.split("Context:\n", 1)[1].split("\nSearch Query:", 1)[0]
        made = [" ".join(re.split(r"[,.;]", re.sub(r"^\[\d+\] ", "", line))[0].split()[:12]) for line in context.splitlines() if line.strip()]
        out = repr(list(dict.fromkeys([*initial, *[m for m in made if m]])))
        return f"```python\n{out}\n```" if "fence" in query else out
    if "NuggetizeScoreLLM" in system:
        CALLS["score"] += 1
        nuggets = ast.literal_eval(_line(user, "Nugget List"))
        labels = ["Vital" if re.search(r"\d|\b[A-Z]{4}\b", n) else "okay" for n in nuggets]
        return repr(labels[:-1] if "short" in _line(user, "Search Query") and labels else labels)
    if "NuggetizeAssignerLLM" in system:
        CALLS["assign"] += 1
        passage = _line(user, "Passage")
        if "garble" in passage:
            return "not a list"
        words = _words(passage)
        out = []
        for nugget in ast.literal_eval(_line(user, "Nugget List")):
            share = len(_words(nugget) & words) / max(1, len(_words(nugget)))
            out.append("SUPPORT" if share == 1 else "partial_support" if share >= 0.5 else "not_support")
        return repr(out)
    CALLS["umbrela"] += 1
    query, passage = _line(user, "Query"), _line(user, "Passage")
    if "[garbage]" in passage:
        return "This passage seems fairly relevant to me."
    grade = 3 if WORD.findall(query)[-1].lower() in _words(passage) else 0
    return f"##final score: {grade}" if "Eilean" in passage else f'{{"M": 2, "T": 1, "O": {grade}}}'


class ScriptedReferenceBackend(ChatBackend):
    """ragsweep's side: the rules above as a chat backend."""

    def __init__(self, model: str, **params: Any):
        super().__init__(model, **{k: v for k, v in params.items() if k in SAMPLING})  # the preset's serving keys are not ours

    def complete(self, conversations: Sequence[Messages], json_schema: dict[str, Any] | None = None, desc: str = "llm", max_tokens: int | None = None) -> list[Completion]:
        BATCHES.append(len(conversations))
        return [Completion(reply(c), 10, 5) for c in conversations]


class ReferenceHandler:
    """The reference's side for Nuggetizer: its LLMHandler's ``run`` answered by the same rules."""

    def run(self, messages: list[dict[str, str]], temperature: float = 0) -> tuple[str, int]:
        return reply(messages), 0


class ReferenceOpenAI:
    """The reference's side for UMBRELA: the OpenAI client GPTJudge calls, answered by the same rules; every
    request kept (the messages and max_tokens the reference sent)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.chat = self
        self.completions = self

    def create(self, **request: Any) -> Any:
        self.requests.append(request)
        message = type("Message", (), {"content": reply(request["messages"])})()
        return type("Response", (), {"choices": [type("Choice", (), {"message": message})()]})()
