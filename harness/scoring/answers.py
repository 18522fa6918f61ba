"""Answer metrics against the gold answers: exact match and token F1 (SQuAD's normalisation; Thai words by
pythainlp), and two weight-free answer-match scorers that forgive a correct answer said in a sentence: whether a gold
alias appears in the answer (``answer_contains``) and the share of the gold's tokens it holds (``answer_recall``);
on answers that were generated without error."""

from __future__ import annotations

from typing import Any

from ragsweep.metrics.answers import answer_contains, exact_match, token_f1, token_recall
from ragsweep.registry import METRICS
from ragsweep.scoring.base import Metric, QueryView


@METRICS.register("answers")
class AnswerMetrics(Metric):
    phase = "answer"
    needs = "gold answers and a generator"
    bracketed = True  # closed_book_answer_f1, oracle_answer_f1 beside answer_f1 (brackets)

    def headline(self) -> list[str]:
        return ["answer_f1", "answer_em"]

    def declared_columns(self) -> list[str]:
        return ["answer_em", "answer_f1", "answer_contains", "answer_recall"]

    def columns(self, view: QueryView) -> dict[str, Any]:
        gen, q = view.generation, view.query
        if gen is None or not q.answers or gen.error is not None:
            return {}
        return {"answer_em": exact_match(gen.answer, q.answers, view.language), "answer_f1": token_f1(gen.answer, q.answers, view.language),
                "answer_contains": answer_contains(gen.answer, q.answers, view.language),
                "answer_recall": token_recall(gen.answer, q.answers, view.language)}
