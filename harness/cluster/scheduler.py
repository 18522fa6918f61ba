"""What a run learns from the batch scheduler it runs under (run.json's ``scheduler``), how a Slurm job meets its time
limit, and what Slurm's accounting says of a job that ended. Slurm only, for now; another scheduler would add its
own environment here."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from typing import Any, Mapping

log = logging.getLogger("ragsweep.cluster.scheduler")


def scheduler_identity(environ: Mapping[str, str] = os.environ) -> dict[str, Any] | None:
    """The Slurm job this process runs in (``12_3`` for task 3 of array job 12), its node, partition and how often
    Slurm has requeued it; None outside Slurm."""
    if "SLURM_JOB_ID" not in environ:
        return None
    array, task = environ.get("SLURM_ARRAY_JOB_ID"), environ.get("SLURM_ARRAY_TASK_ID")
    return {"name": "slurm", "job_id": f"{array}_{task}" if array and task else environ["SLURM_JOB_ID"],
            "node": environ.get("SLURMD_NODENAME"), "partition": environ.get("SLURM_JOB_PARTITION"),
            "restarts": int(environ.get("SLURM_RESTART_COUNT") or 0)}


def let_slurm_end_a_timed_out_job() -> None:
    """In a Slurm job started by submitit: when Slurm's warning signal says the time limit is near and no requeue is
    left, go on working (Slurm ends the job at its limit, state TIMEOUT) instead of letting submitit fail it then; a
    preemption, or a timeout with requeues left, goes to submitit's own handler as before."""
    handler = signal.getsignal(signal.SIGUSR2)
    owner = getattr(handler, "__self__", None)
    delayed = getattr(owner, "_delayed", None)
    if not callable(handler) or not hasattr(owner, "has_timed_out") or not hasattr(delayed, "_timeout_countdown"):
        log.debug("submitit's signal handler is not the one this knows: left as it is")
        return

    def on_warning(signum: int, frame: Any) -> None:
        if owner.has_timed_out() and delayed._timeout_countdown < 1:
            log.warning("Slurm says this job's time limit is near and no requeue is left (hydra.launcher.max_num_timeout): "
                        "working on until Slurm ends it; every stage finished so far is cached")
            return
        handler(signum, frame)

    signal.signal(signal.SIGUSR2, on_warning)


def slurm_job_report(job_id: str) -> str:
    """One line from Slurm's accounting on how a job ended: state, node, time used against its limit, exit code."""
    done = subprocess.run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State,NodeList,Elapsed,Timelimit,ExitCode"],
                          capture_output=True, text=True, timeout=60)
    rows = [line.split("|") for line in done.stdout.splitlines() if line.count("|") == 4]
    if done.returncode != 0 or not rows:
        return f"Slurm job {job_id}: sacct has no record of it ({(done.stderr or '').strip()[:120] or 'no output'})"
    state, node, elapsed, limit, code = rows[-1]
    return f"Slurm job {job_id} on {node or 'no node'}: {state} after {elapsed} (time limit {limit}, exit code {code})"
