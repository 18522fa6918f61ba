from __future__ import annotations

from typing import Sequence

from ragsweep.generators.base import Generator
from ragsweep.registry import GENERATORS
from ragsweep.types import Chunk, Generation, Query


@GENERATORS.register("none")
class NoGenerator(Generator):
    """Retrieval-only runs: the pipeline skips the generate stage and no answer metrics are computed."""

    def generate(self, queries: Sequence[Query], contexts: Sequence[Sequence[Chunk]]) -> list[Generation]:
        return []
