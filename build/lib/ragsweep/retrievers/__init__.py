"""Retrievers: build an index over chunks, then rank chunks for each question."""

from ragsweep.retrievers.base import Retriever

__all__ = ["Retriever"]
