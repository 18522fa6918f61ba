"""Components that hold their stage while a file exists, so that a cluster test can kill, preempt or time out a job
at a known stage, or start two jobs on one stage together. Each writes a line to ``<hold_dir>/started`` (its Slurm
job, restart count and pid) when its stage begins; imported by the jobs through PYTHONPATH (the repository root)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from ragsweep.chunkers.fixed_tokens import FixedTokenChunker
from ragsweep.retrievers.bm25 import BM25Retriever
from ragsweep.types import Document


def hold(hold_dir: str) -> None:
    folder = Path(hold_dir)
    from ragsweep.cluster.scheduler import scheduler_identity

    job = (scheduler_identity() or {}).get("job_id")
    with open(folder / "started", "a") as fh:
        fh.write(f"{job} {os.environ.get('SLURM_RESTART_COUNT', '0')} {os.getpid()}\n")
    while (folder / "hold").exists():
        time.sleep(0.2)


class HeldBM25(BM25Retriever):
    """BM25 whose search (the retrieve stage, after load, chunk and index) waits for ``hold_dir``."""

    def __init__(self, hold_dir: str, **kwargs):
        super().__init__(**kwargs)
        self.hold_dir = hold_dir

    def search(self, artifact, questions: Sequence[str], k: int):
        hold(self.hold_dir)
        return super().search(artifact, questions, k)


class HeldChunker(FixedTokenChunker):
    """Fixed token windows whose chunk stage waits for ``hold_dir`` once per process."""

    def __init__(self, hold_dir: str, **kwargs):
        super().__init__(**kwargs)
        self.hold_dir = hold_dir
        self.held = False

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        if not self.held:
            self.held = True
            hold(self.hold_dir)
        return super().spans(doc)
