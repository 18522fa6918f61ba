"""Rerankers: reorder a retriever's candidates for each question."""

from harness.rerankers.base import Reranker

__all__ = ["Reranker"]
