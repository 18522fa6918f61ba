"""Context selectors: which of the final ranking's chunks go to the generator, between reranking and generation."""

from ragsweep.selectors.base import Selector

__all__ = ["Selector"]
