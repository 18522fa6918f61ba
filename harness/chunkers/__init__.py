"""Chunkers: each splits a Document into Chunks with exact character offsets."""

from harness.chunkers.base import Chunker

__all__ = ["Chunker"]
