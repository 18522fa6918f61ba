"""Reading LLM-judge outputs into scores: pure functions, text in, number or None out.

None means the output could not be read as the rubric asks. Callers count it in a validity rate and
leave it out of the mean (or, with the reference policy, score it 0 explicitly); it is never a pass.

- Coverage and contradiction (NitiBench, docs/metrics.md#nitibench): labels no/partial/full-coverage ->
  0/50/100; contradiction -> 1, no-contradiction -> 0.
- Correctness (CoFE-RAG via llama-index, 2.4): a 1-5 score; passing iff >= 4.
- Faithfulness and relevance (2.4): YES -> 1, NO -> 0. llama-index passes any reply that merely
  contains "yes"; here the verdict is read only from the JSON field or from a reply that is exactly the
  label, so a refusal that starts with "Yes, ..." is invalid, not a pass. The same holds for the 1-5 score.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

COVERAGE_POINTS = {"no-coverage": 0.0, "partial-coverage": 50.0, "full-coverage": 100.0}
CONTRADICTION_POINTS = {"no-contradiction": 0.0, "contradiction": 1.0}
CORRECTNESS_PASS = 4.0

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _balanced_objects(text: str):
    """Every top-level ``{...}`` substring, braces balanced outside JSON strings, in order."""
    depth, start, in_string, escaped = 0, None, False, False
    for i, ch in enumerate(text):
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"' and depth:
            in_string, escaped = True, False
        elif ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model reply: bare, in a ```json fence, or amid prose."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        for blob in _balanced_objects(candidate):
            try:
                value = json.loads(blob)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _label(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("score", value.get("label"))
    if not isinstance(value, str):
        return None
    return re.sub(r"[\s_]+", "-", value.strip().lower())


def coverage_score(reply: dict[str, Any] | None) -> float | None:
    label = _label((reply or {}).get("coverage"))
    if label in ("none", "no"):
        label = "no-coverage"
    elif label in ("partial", "full"):
        label = f"{label}-coverage"
    return COVERAGE_POINTS.get(label or "")


def contradiction_score(reply: dict[str, Any] | None) -> float | None:
    label = _label((reply or {}).get("contradiction"))
    if label in ("yes", "true"):
        label = "contradiction"
    elif label in ("no", "none", "false"):
        label = "no-contradiction"
    return CONTRADICTION_POINTS.get(label or "")


def _bare(text: str) -> str:
    """A reply trimmed of whitespace, surrounding quotes or asterisks and one final period: what is left
    must be the label itself for a non-JSON reply to count."""
    return text.strip().strip("\"'*`").strip().removesuffix(".").strip()


def yes_no_score(text: str) -> float | None:
    """YES -> 1, NO -> 0, from ``{"verdict": ...}`` (or ``"answer"``), or from a reply that is exactly the
    label. Anything else is unreadable: "Yes, I understand the task, but I cannot evaluate this" is not a YES."""
    reply = parse_json_object(text)
    value = reply.get("verdict", reply.get("answer")) if reply is not None else text
    if not isinstance(value, str):
        return None
    label = _bare(value).lower()
    return {"yes": 1.0, "no": 0.0}.get(label)


def correctness_score(text: str) -> float | None:
    """A 1-5 score from ``{"score": n}`` or from a reply that is exactly the number (``4``, ``4.5``,
    ``4/5``); "5 reasons prevent me from grading this" is unreadable, not a 5."""
    reply = parse_json_object(text)
    if reply is not None:
        value = reply.get("score")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
    else:
        match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(?:\s*/\s*5)?", _bare(text))
        value = match.group(1) if match else None
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return score if 1.0 <= score <= 5.0 else None


def attribution_rate(text: str) -> float | None:
    """The share of an answer's claims the judge found supported by the cited passages, from
    ``{"claims": [{"claim", "supported": true|false}]}``; None when unreadable, empty, or any verdict is not
    a boolean (a claim is never guessed supported)."""
    reply = parse_json_object(text)
    claims = reply.get("claims") if reply else None
    if not isinstance(claims, list) or not claims:
        return None
    verdicts = [c.get("supported") if isinstance(c, dict) else None for c in claims]
    if not all(isinstance(v, bool) for v in verdicts):
        return None
    return sum(verdicts) / len(verdicts)


def panel_score(scores: list[float | None]) -> float | None:
    """A panel's verdict: the mean of its members' readable scores; None if no member was readable."""
    valid = [s for s in scores if s is not None]
    return sum(valid) / len(valid) if valid else None


def majority_vote(samples: list[float | None]) -> tuple[float | None, float | None]:
    """(vote, agreement) over one judge's repeated samples of one verdict: the vote is the most frequent readable
    score (a tie: the mean of the tied scores, so YES/NO split evenly reads 0.5); agreement is the share of the
    readable samples that gave the most frequent score (1.0 when all agree; None, with a None vote, when none
    was readable)."""
    valid = [s for s in samples if s is not None]
    if not valid:
        return None, None
    counts = Counter(valid)
    top = max(counts.values())
    tied = sorted(score for score, n in counts.items() if n == top)
    return sum(tied) / len(tied), top / len(valid)


def coverage_label_from_f1(exact: float, f1: float) -> float:
    """A gold coverage grade from answer overlap, for measuring a judge on short-answer suites:
    exact match -> full (100), no token overlap -> none (0), otherwise partial (50)."""
    if exact >= 1.0:
        return 100.0
    return 0.0 if f1 <= 0.0 else 50.0


def pairwise_winner(reply: str) -> str | None:
    """"1", "2" or "tie" from ``{"winner": ...}`` (or a reply that is just the label); None if unreadable."""
    parsed = parse_json_object(reply)
    value = parsed.get("winner") if parsed else reply
    label = str(value).strip().strip('"').lower() if value is not None else ""
    label = {"answer 1": "1", "answer 2": "2", "a": "1", "b": "2"}.get(label, label)
    return label if label in ("1", "2", "tie") else None


def pairwise_verdict(a_first: str | None, b_first: str | None) -> str:
    """Combine the two orders: ``a_first`` is the winner label with A shown as answer 1, ``b_first``
    with B shown as answer 1. Returns "A", "B", "tie", "inconsistent" (the orders disagree: position
    bias) or "invalid" (either reply unreadable)."""
    if a_first is None or b_first is None:
        return "invalid"
    in_a_terms = {"1": "A", "2": "B", "tie": "tie"}[a_first]
    swapped = {"1": "B", "2": "A", "tie": "tie"}[b_first]
    return in_a_terms if in_a_terms == swapped else "inconsistent"
