from __future__ import annotations

from ragsweep.registry import JUDGES


@JUDGES.register("none")
class NoJudge:
    """No LLM judgement: the pipeline skips the judge stage."""

    version = "1"
    label_params: tuple[str, ...] = ()
