"""Hydra launchers: submitit's local executor (the Slurm launcher's code path without a cluster) runs a
sweep whose jobs share one stage cache. The Ray launcher is documented, never started here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
import pytest

pytestmark = pytest.mark.process

REPO = Path(__file__).resolve().parent.parent


def test_submitit_local_launcher_runs_a_sweep_over_a_shared_cache(tmp_path):
    cmd = [sys.executable, "-m", "ragsweep.commands.run", "-m", "hydra/launcher=local_submitit", "task=span_mini",
           "retriever=bm25,dense", "generator=none", "progress=false", f"cache_dir={tmp_path}/cache",
           f"results_dir={tmp_path}/runs", "sweep_name=submitit", f"hydra.sweep.dir={tmp_path}/hydra"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=600)
    infos = [json.loads(p.read_text()) for p in sorted((tmp_path / "runs" / "submitit").glob("*/run.json"))]
    assert len(infos) == 2
    # Both jobs chunked the same suite the same way: one computed it, the other (or a later one) reused it.
    chunk_keys = {i["stages"]["chunk"]["key"] for i in infos}
    assert len(chunk_keys) == 1 and (tmp_path / "hydra" / ".submitit").is_dir()
