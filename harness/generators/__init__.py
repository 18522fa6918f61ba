"""Generators: answer each question from its top context chunks."""

from harness.generators.base import Generator

__all__ = ["Generator"]
