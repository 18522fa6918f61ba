"""Chunkers: each splits a Document into Chunks with exact character offsets."""

from ragsweep.chunkers.base import Chunker

__all__ = ["Chunker"]
