"""Generators: answer each question from its top context chunks."""

from ragsweep.generators.base import Generator

__all__ = ["Generator"]
