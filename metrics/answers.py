"""Answer exact match and token F1 with SQuAD's normalisation, max over gold aliases.

Language-aware tokens: Thai is written without spaces between words, so whitespace splitting makes a
whole Thai answer one token; Thai answers are compared on pythainlp newmm word tokens instead.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

from ragsweep.text import word_tokens

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and English articles, collapse whitespace (SQuAD v1.1)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str, language: str = "en") -> list[str]:
    normalized = normalize_answer(text)
    return word_tokens(normalized, "th") if language == "th" else normalized.split()


def exact_match(prediction: str, answers: Sequence[str], language: str = "en") -> float:
    pred = answer_tokens(prediction, language)
    return max((1.0 if pred == answer_tokens(a, language) else 0.0 for a in answers), default=0.0)


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Sequence[str], language: str = "en") -> float:
    pred = answer_tokens(prediction, language)
    return max((_f1(pred, answer_tokens(a, language)) for a in answers), default=0.0)


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def answer_contains(prediction: str, answers: Sequence[str], language: str = "en") -> float:
    """1.0 when some gold alias, normalised, appears as a run of whole tokens in the normalised prediction: the
    lenient short-answer match of the answer-equivalence literature (PEDANTS, Li et al. 2024), which EM misses when a
    correct answer is said in a sentence ("It is Paris." for "Paris")."""
    pred = answer_tokens(prediction, language)
    return max((1.0 if _contains(pred, answer_tokens(a, language)) else 0.0 for a in answers), default=0.0)


def token_recall(prediction: str, answers: Sequence[str], language: str = "en") -> float:
    """The share of a gold alias's tokens the prediction holds (counted with multiplicity), max over aliases: how
    much of the gold the answer says, whatever else it says (F1 would charge it for the rest)."""
    pred = Counter(answer_tokens(prediction, language))
    best = 0.0
    for a in answers:
        gold = answer_tokens(a, language)
        if gold:
            best = max(best, sum((Counter(gold) & pred).values()) / len(gold))
    return best
