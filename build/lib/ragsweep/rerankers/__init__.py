"""Rerankers: reorder a retriever's candidates for each question."""

from ragsweep.rerankers.base import Reranker

__all__ = ["Reranker"]
