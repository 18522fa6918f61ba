"""A sweep killed with SIGKILL mid-run resumes with the same command and ends with the same records as
a sweep that was never interrupted: every column equal, except the measured wall-clock latency (two
separate executions cannot time the same)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.process

REPO = Path(__file__).resolve().parent.parent
SWEEP = ["-m", "task=span_mini,multihop_mini", "retriever=bm25,dense", "chunker=fixed_tokens,sentences", "generator=extractive", "progress=false"]


def _command(root: Path) -> list[str]:
    return [sys.executable, "-m", "ragsweep.commands.run", *SWEEP, f"cache_dir={root}/cache", f"results_dir={root}/runs",
            "sweep_name=resume", f"hydra.sweep.dir={root}/hydra"]


TIMINGS = ["latency_s"]


def _records(root: Path) -> dict[str, pd.DataFrame]:
    return {p.parent.name: pd.read_parquet(p).drop(columns=TIMINGS) for p in sorted((root / "runs" / "resume").glob("*/records.parquet"))}


def test_killed_sweep_resumes_to_identical_records(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_command(killed), cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # the sweep's own word that a run was written: no polling, no sleep
        if "runs done" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers, mid-sweep
    proc.wait()
    finished_before = len(_records(killed))
    assert 1 <= finished_before < 8, "the kill must land mid-sweep"

    subprocess.run(_command(killed), cwd=REPO, env=env, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run(_command(clean), cwd=REPO, env=env, check=True, capture_output=True)
    resumed, reference = _records(killed), _records(clean)
    assert len(reference) == 8 and sorted(resumed) == sorted(reference)
    for name, frame in reference.items():
        pd.testing.assert_frame_equal(resumed[name], frame, check_exact=True)
