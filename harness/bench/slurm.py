"""What Slurm costs a sweep: ``ragsweep sweep NAME --rerun`` through the local launcher (joblib, 2 processes) and
through ``hydra/launcher=slurm`` (one CPU a job, at most 2 at once: the same parallelism) on the cluster at
SLURM_CONF, alternated and repeated, on one warm stage cache, so that both sides do the same work and the difference
is the launcher's. Per Slurm job: its wait in the queue (Submit to Start) and its time on the node beyond the run's
own wall time (Start to End minus run.json's ``wall_s``: starting Python, submitit and writing its result), from
sacct. Writes results/bench/slurm.json."""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep.help_text import plain_doc
from ragsweep.logs import setup_logging
from ragsweep.paths import results_root

log = logging.getLogger("ragsweep.bench.slurm")

SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
         "hydra.launcher.array_parallelism=2", "hydra.launcher.timeout_min=30"]


def sweep(results: Path, name: str, launcher: list[str]) -> tuple[float, str]:
    """Wall seconds of one ``ragsweep sweep NAME --rerun``, and its stderr."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ragsweep", "--results", str(results), "sweep", name, "--rerun", "--no-plan",
                           *launcher], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ragsweep sweep {name} {' '.join(launcher)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - t0, done.stderr


def slurm_jobs(array: str, tasks: int) -> list[dict[str, float | str]]:
    """Each task of a job array: seconds queued and seconds on the node (whole seconds: sacct's), once the accounting
    database has all ``tasks`` of them (slurmctld sends it job ends a moment after they happen)."""
    deadline = time.monotonic() + 60
    while True:
        rows = subprocess.run(["sacct", "-j", array, "-X", "-n", "-P", "-o", "JobID,Submit,Start,End"], capture_output=True,
                              text=True, check=True).stdout.split()
        if len(rows) >= tasks or time.monotonic() > deadline:
            break
        time.sleep(1)
    out = []
    for row in rows:
        job, submit, start, end = row.split("|")
        t = {k: datetime.fromisoformat(v) for k, v in (("submit", submit), ("start", start), ("end", end))}
        out.append({"job_id": job, "queued_s": (t["start"] - t["submit"]).total_seconds(),
                    "on_node_s": (t["end"] - t["start"]).total_seconds()})
    return out


def run_walls(results: Path, name: str) -> dict[str, float]:
    """Slurm job id -> the run's own wall seconds (run.json), for the runs of the last Slurm sweep."""
    infos = [json.loads(p.read_text()) for p in (results / "runs" / name).glob("*/run.json")]
    return {i["scheduler"]["job_id"]: i["wall_s"] for i in infos if i.get("scheduler")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench slurm", description=plain_doc(__doc__))
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "slurm.json", help="where the result goes (default: <results>/bench/slurm.json)")
    parser.add_argument("--sweep", default="ci", help="the preset swept on both launchers (default: ci)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="sweeps per launcher, alternating")
    args = parser.parse_args(argv)
    setup_logging()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp)
        sweep(results, args.sweep, [])  # fills the stage cache both sides then read
        walls: dict[str, list[float]] = {"local": [], "slurm": []}
        jobs: list[dict[str, float | str]] = []
        for _ in range(args.repeats):
            for side, launcher in (("local", []), ("slurm", SLURM)):
                seconds, err = sweep(results, args.sweep, launcher)
                walls[side].append(seconds)
                log.info("%s: %.2f s", side, seconds)
                if side == "slurm":
                    array = re.search(r"submitted to Slurm as job array (\d+)", err)
                    if not array:
                        raise SystemExit("the Slurm sweep did not say which job array it submitted")
                    own = run_walls(results, args.sweep)
                    found = slurm_jobs(array.group(1), len(own))
                    if len(found) != len(own):
                        raise SystemExit(f"sacct lists {len(found)} tasks of job array {array.group(1)}, the sweep wrote {len(own)} runs")
                    jobs += [{**j, "run_wall_s": own[str(j["job_id"])], "beyond_run_s": float(j["on_node_s"]) - own[str(j["job_id"])]}
                             for j in found]
    n_jobs = len(jobs) // args.repeats
    med = {side: statistics.median(v) for side, v in walls.items()}
    result = {
        "sweep": args.sweep, "jobs_per_sweep": n_jobs, "repeats": args.repeats, "launcher_overrides": SLURM,
        "local_sweep_s": med["local"], "slurm_sweep_s": med["slurm"],
        "extra_per_job_s": (med["slurm"] - med["local"]) / n_jobs,
        "job_queued_median_s": statistics.median(float(j["queued_s"]) for j in jobs),
        "job_beyond_run_median_s": statistics.median(float(j["beyond_run_s"]) for j in jobs),
        "runs_s": walls, "jobs": jobs,
    }
    write_result(args.out, result)
    print(f"{args.sweep} ({n_jobs} jobs, 2 at a time, warm cache), median of {args.repeats}: local {med['local']:.1f} s, "
          f"slurm {med['slurm']:.1f} s, {result['extra_per_job_s']:.1f} s more a job; a Slurm job waited "
          f"{result['job_queued_median_s']:.0f} s in the queue and spent {result['job_beyond_run_median_s']:.1f} s on the node "
          f"beyond its run (medians)")
