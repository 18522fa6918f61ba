"""Sweeps on a real one-node Slurm (make slurm-up): records equal to the local launcher's, a job cancelled or preempted
mid-stage finishing from the cache, a time limit reported with Slurm's reason, two array tasks on one stage making
one cache entry, and each run.json naming its Slurm job and node. The held components (tests/slurm/held.py) stop a
job at a known stage until the test removes their hold file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from tests.helpers import statuses

pytestmark = pytest.mark.process

REPO = Path(__file__).resolve().parents[2]
NODE = socket.gethostname().split(".")[0]
# What every job asks of the 2-CPU test node: one CPU each, so two run at once; the long partition, whose jobs a
# short-partition job preempts.
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
         "hydra.launcher.partition=long", "hydra.launcher.timeout_min=10"]


def environment() -> dict[str, str]:
    """The jobs import tests.slurm.held: Slurm starts them with this environment (sbatch exports it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def ragsweep(results: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ragsweep", "--results", str(results), *args]


def held_sweep(tmp_path: Path, name: str, *overrides: str) -> list[str]:
    return ragsweep(tmp_path / "results", "run", "-m", "task=span_mini", "generator=none", "progress=false",
                    f"sweep_name={name}", *SLURM, *overrides)


def held_retriever(held: Path) -> list[str]:
    return ["retriever=bm25", "+retriever._target_=tests.slurm.held.HeldBM25", "retriever.name=held_bm25", f"+retriever.hold_dir={held}"]


def hold(tmp_path: Path) -> Path:
    held = tmp_path / "held"
    held.mkdir()
    (held / "hold").touch()
    return held


def wait_until(what: str, ready: Callable[[], bool], timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise AssertionError(f"waited {timeout_s:.0f} s for {what}")


def started(held: Path) -> list[str]:
    path = held / "started"
    return path.read_text().splitlines() if path.exists() else []


def only_run(results: Path, sweep: str) -> dict:
    infos = [json.loads(p.read_text()) for p in (results / "runs" / sweep).glob("*/run.json")]
    assert len(infos) == 1
    return infos[0]


def slurm(*cmd: str) -> str:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, timeout=60).stdout


def test_the_ci_sweep_on_slurm_writes_the_records_the_local_launcher_writes(tmp_path):
    on_slurm = subprocess.run(ragsweep(tmp_path / "slurm", "sweep", "ci", *SLURM, "hydra.launcher.array_parallelism=2"),
                              capture_output=True, text=True, env=environment(), cwd=tmp_path, timeout=900)
    assert on_slurm.returncode == 0, on_slurm.stderr[-3000:]
    local = subprocess.run(ragsweep(tmp_path / "local", "sweep", "ci"), capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert local.returncode == 0, local.stderr[-3000:]
    assert "sweep finished: 6 of 6 runs written" in on_slurm.stderr
    runs = sorted(p.name for p in (tmp_path / "local" / "runs" / "ci").iterdir() if p.is_dir())
    assert len(runs) == 6 and runs == sorted(p.name for p in (tmp_path / "slurm" / "runs" / "ci").iterdir() if p.is_dir())
    for name in runs:
        a, b = (pd.read_parquet(tmp_path / side / "runs" / "ci" / name / "records.parquet") for side in ("local", "slurm"))
        timings = [c for c in a.columns if c.endswith("_s")]  # seconds differ between any two runs
        pd.testing.assert_frame_equal(a.drop(columns=timings), b.drop(columns=timings))
        assert "scheduler" not in json.loads((tmp_path / "local" / "runs" / "ci" / name / "run.json").read_text())
    jobs = [json.loads((tmp_path / "slurm" / "runs" / "ci" / name / "run.json").read_text())["scheduler"] for name in runs]
    arrays = {j["job_id"].split("_")[0] for j in jobs}
    assert len(arrays) == 1 and sorted(int(j["job_id"].split("_")[1]) for j in jobs) == list(range(6))
    assert all(j["name"] == "slurm" and j["node"] == NODE and j["partition"] == "long" and j["restarts"] == 0 for j in jobs)
    # One job array, at most two tasks at once (hydra.launcher.array_parallelism), as Slurm recorded it.
    (array,) = arrays
    assert slurm("squeue", "-h", "-j", array) == ""  # nothing left queued
    scripts = list((tmp_path / "slurm" / "hydra" / "ci").glob(f"*/.submitit/{array}_0/*submission.sh")) or \
        list((tmp_path / "slurm" / "hydra" / "ci").glob("*/.submitit/*/*submission.sh"))
    assert any("#SBATCH --array=0-5%2" in s.read_text() for s in scripts)


def test_a_job_cancelled_mid_stage_finishes_on_resubmission_from_the_cache(tmp_path):
    held = hold(tmp_path)
    cmd = held_sweep(tmp_path, "cancelled", *held_retriever(held))
    sweep = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(), cwd=tmp_path)
    try:
        wait_until("the job to reach its retrieve stage", lambda: bool(started(held)))
        job = started(held)[0].split()[0]
        slurm("scancel", job)
        _, err = sweep.communicate(timeout=240)
    finally:
        sweep.kill()
    assert sweep.returncode == 1
    assert "1 of 1 runs failed:" in err and f"job 0: Slurm job {job} on {NODE}: CANCELLED" in err, err[-2000:]
    assert not (tmp_path / "results" / "runs" / "cancelled").exists()

    (held / "hold").unlink()
    again = subprocess.run(cmd, capture_output=True, text=True, env=environment(), cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    info = only_run(tmp_path / "results", "cancelled")
    # What the cancelled job finished is served from the cache; the stage it was cut off in is computed afresh.
    assert {k: statuses(info)[k] for k in ("load", "chunk", "index", "retrieve")} == \
        {"load": "hit", "chunk": "hit", "index": "hit", "retrieve": "computed"}
    assert info["scheduler"]["job_id"] != job and info["scheduler"]["restarts"] == 0
    from tests.helpers import run

    _, plain = run(tmp_path / "plain", "task=span_mini", "retriever=bm25", "generator=none")
    ours = pd.read_parquet(tmp_path / "results" / "runs" / "cancelled" / info["run"] / "records.parquet")
    theirs = pd.read_parquet(tmp_path / "plain" / "runs" / plain["sweep"] / plain["run"] / "records.parquet")
    assert ours["ranked_chunk_ids"].map(list).tolist() == theirs["ranked_chunk_ids"].map(list).tolist()


def test_a_preempted_job_is_requeued_by_slurm_and_finishes_from_the_cache(tmp_path):
    held = hold(tmp_path)
    sweep = subprocess.Popen(held_sweep(tmp_path, "preempted", *held_retriever(held)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=environment(), cwd=tmp_path)
    try:
        wait_until("the job to reach its retrieve stage", lambda: bool(started(held)))
        job = started(held)[0].split()[0]
        # A short-partition job that needs both CPUs: Slurm preempts the long-partition job and requeues it.
        slurm("sbatch", "-p", "short", "-c", "2", "-o", "/dev/null", "--wrap", "sleep 2")
        wait_until("Slurm to requeue the job", lambda: "Restarts=1" in slurm("scontrol", "show", "job", job), 120)
        first = int(started(held)[0].split()[2])
        wait_until("the first start to be killed", lambda: not Path(f"/proc/{first}").exists(), 60)
        (held / "hold").unlink()
        _, err = sweep.communicate(timeout=420)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, err[-3000:]
    assert "sweep finished: 1 of 1 runs written" in err
    assert [line.split()[:2] for line in started(held)] == [[job, "0"], [job, "1"]]  # the stage began once per start
    info = only_run(tmp_path / "results", "preempted")
    assert info["scheduler"] == {"name": "slurm", "job_id": job, "node": NODE, "partition": "long", "restarts": 1}
    assert {k: statuses(info)[k] for k in ("load", "chunk", "index", "retrieve")} == \
        {"load": "hit", "chunk": "hit", "index": "hit", "retrieve": "computed"}


def test_a_job_past_its_time_limit_is_a_failed_run_with_slurms_reason(tmp_path):
    held = hold(tmp_path)  # never released: the job waits until Slurm ends it
    done = subprocess.run(held_sweep(tmp_path, "late", *held_retriever(held), "hydra.launcher.timeout_min=1"),
                          capture_output=True, text=True, env=environment(), cwd=tmp_path, timeout=600)
    (held / "hold").unlink()
    job = started(held)[0].split()[0]
    assert done.returncode == 1
    assert re.search(rf"1 of 1 runs failed:\n\s*job 0: Slurm job {job} on {NODE}: TIMEOUT after 00:0\d:\d\d \(time limit 00:01:00",
                     done.stderr), done.stderr[-2000:]
    logs = "".join(p.read_text() for p in (tmp_path / "results" / "hydra" / "late").glob(f"*/.submitit/{job}/*_log.err"))
    assert "working on until Slurm ends it" in logs  # submitit's early failure was not what ended it


def test_two_array_tasks_on_one_stage_make_one_cache_entry(tmp_path):
    held = hold(tmp_path)
    chunker = ["chunker=fixed_tokens", "+chunker._target_=tests.slurm.held.HeldChunker", "chunker.name=held_tokens",
               f"+chunker.hold_dir={held}"]
    sweep = subprocess.Popen(held_sweep(tmp_path, "together", *chunker, "retriever=bm25", "top_k=20,25",
                                        "hydra.launcher.array_parallelism=2"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(), cwd=tmp_path)
    try:
        wait_until("one job to start chunking", lambda: bool(started(held)))
        array = started(held)[0].split("_")[0]  # two tasks: an array
        wait_until("both tasks to run at once", lambda: len(slurm("squeue", "-h", "-t", "R", "-j", array, "-o", "%i").split()) == 2)
        time.sleep(3)
        assert len(started(held)) == 1  # the other task waits on the stage's lock instead of chunking too
        (held / "hold").unlink()
        _, err = sweep.communicate(timeout=420)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, err[-3000:]
    infos = [json.loads(p.read_text()) for p in (tmp_path / "results" / "runs" / "together").glob("*/run.json")]
    assert len(infos) == 2 and len(started(held)) == 1
    assert len({i["stages"]["chunk"]["key"] for i in infos}) == 1
    assert sorted(i["stages"]["chunk"]["status"] for i in infos) == ["computed", "hit"]
    assert len({i["scheduler"]["job_id"] for i in infos}) == 2
    entries = [p for p in (tmp_path / "results" / "cache" / "chunk").rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert len(entries) == 1
