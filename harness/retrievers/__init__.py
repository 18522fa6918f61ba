"""Retrievers: build an index over chunks, then rank chunks for each question."""

from harness.retrievers.base import Retriever

__all__ = ["Retriever"]
