"""assessor=none: no TREC-style assessment (the default)."""

from ragsweep.registry import ASSESSORS


@ASSESSORS.register("none")
class NoAssessor:
    pass
