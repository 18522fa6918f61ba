"""A sweep finishes every job it can: a job that fails writes its one-line reason into its Hydra job
folder instead of raising, and after the last job the parent prints "N of M runs failed" with each
reason and exits 1. A job that died without a word (killed, out of memory) counts as failed too.
Each finished job logs the sweep's progress ("sweep progress: 5 of 27 runs done").
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ragsweep.store.run_folder import record_latest

log = logging.getLogger("ragsweep.sweep")
MAIN_PID = "RAGSWEEP_MAIN_PID"  # environment: the command's process, the one that answers Ctrl-C in a sweep
STATUS_FILE = "ragsweep_status.json"
TOTAL_FILE = "ragsweep_total_jobs"


def write_status(job_dir: str | Path, ok: bool, detail: str) -> None:
    """The job's status file, and the sweep's progress line. Writing and counting hold the sweep folder's lock, so
    two jobs that end at once count one another once (without it both said "27 of 27")."""
    import fcntl

    from ragsweep.store.cache import atomic_write_bytes

    sweep_dir = Path(job_dir).parent
    with open(sweep_dir / ".ragsweep_status.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        atomic_write_bytes(Path(job_dir) / STATUS_FILE, json.dumps({"ok": ok, "detail": detail}).encode("utf-8"))
        done = sum(1 for _ in sweep_dir.glob(f"*/{STATUS_FILE}"))
    total = (sweep_dir / TOTAL_FILE).read_text("utf-8").strip() if (sweep_dir / TOTAL_FILE).exists() else "?"
    log.info("sweep progress: %d of %s runs done (job %s %s)", done, total, Path(job_dir).name, "written" if ok else "FAILED")


def record_ended_job(job_dir: Path, job_id: str, error: str) -> None:
    """A job that left no result: its status file says what Slurm's accounting says of it, and what Slurm wrote into
    the job's log when it stopped it ("CANCELLED AT ... DUE TO TIME LIMIT"), or, for a job that raised, submitit's
    last line; so the sweep's summary counts and names it. A status the job wrote itself (it finished, then died on its
    way out) is kept."""
    import re

    from ragsweep.cluster.scheduler import slurm_job_report

    if (job_dir / STATUS_FILE).exists():
        return
    report = slurm_job_report(job_id)
    if stopped := re.search(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ (.+?) \*\*\*", error):
        report += f"; Slurm's log: {stopped.group(1)}"
    elif "has not produced any output" not in error:  # the job raised: submitit's trace ends with the error
        last = next((line.strip() for line in reversed(error.strip().splitlines()) if line.strip()), "")
        report += f"; submitit: {last[:200]}" if last else ""
    job_dir.mkdir(parents=True, exist_ok=True)
    write_status(job_dir, False, report)


def count_jobs(config: DictConfig) -> int:
    """How many jobs Hydra's basic sweeper makes of this multirun: the command line's overrides and the
    preset's ``hydra.sweeper.params``, expanded as the sweeper expands them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    overrides = OverridesParser.create().parse_overrides([*params, *config.hydra.overrides.task])
    return sum(len(batch) for batch in BasicSweeper.split_arguments(overrides, None))


def read_statuses(sweep_dir: Path) -> list[tuple[str, bool, str]]:
    """(job number, ok, run folder or failure reason) for every job folder of a sweep."""
    out = []
    for job in sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        try:
            status = json.loads((job / STATUS_FILE).read_text("utf-8"))
            out.append((job.name, bool(status["ok"]), str(status["detail"])))
        except (OSError, ValueError, KeyError, TypeError):
            out.append((job.name, False, "the job ended without a result (killed or crashed before it could report)"))
    return out


def summarize(statuses: list[tuple[str, bool, str]]) -> int:
    """Log the sweep's outcome; the exit code it deserves (0: every run written, 1: some failed)."""
    failed = [(num, detail) for num, ok, detail in statuses if not ok]
    if not failed:
        log.info("sweep finished: %d of %d runs written", len(statuses), len(statuses))
        return 0
    lines = [f"{len(failed)} of {len(statuses)} runs failed:"] + [f"  job {num}: {detail}" for num, detail in failed]
    log.error("%s", "\n".join(lines))
    return 1


def print_results(config: DictConfig, run_folders: list[Path]) -> Path | None:
    """The sweep's results table on stdout (ragsweep.analysis.sweep_table), also written as results.txt in the sweep
    folder (a tracker's artifact). A table that cannot be made is a warning, never a failed sweep: the runs are
    written either way."""
    from ragsweep.analysis.sweep_table import sweep_table

    try:
        text = sweep_table(run_folders, Path(config.results_dir), str(config.sweep_name), [str(c) for c in config.get("rank_by") or ()])
    except Exception as err:  # noqa: BLE001 - reporting must not turn a finished sweep into a failure
        log.warning("the sweep's results table could not be made (%s: %s); ragsweep report shows the runs", type(err).__name__, err)
        return None
    if not text:
        return None
    print("\n" + text, flush=True)
    path = Path(config.hydra.sweep.dir) / "results.txt"
    path.write_text(text + "\n", "utf-8")
    return path


def tracker(config: DictConfig) -> Any:
    from omegaconf import OmegaConf

    from ragsweep.registry import TRACKERS

    return TRACKERS.build(OmegaConf.to_container(config.tracking, resolve=True))  # type: ignore[arg-type]


class SweepSummary(Callback):
    """Hydra callback (configs/config.yaml): after a multirun, the summary and a non-zero exit on failures, and
    the sweep's manifest when the command gave its ``fingerprint`` (ragsweep.engine.uptodate) and every run was
    written."""

    def __init__(self, fingerprint: str | None = None):
        self.fingerprint = fingerprint

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self.start_tracking(config, sweep_dir)
        try:
            total = count_jobs(config)
        except Exception as err:  # another sweeper (Optuna, ...) counts its own way: progress shows "of ?"
            log.debug("cannot count the sweep's jobs: %s", err)
            return
        (sweep_dir / TOTAL_FILE).write_text(f"{total}\n", "utf-8")
        log.info("sweep of %d runs -> %s", total, sweep_dir)

    @staticmethod
    def start_tracking(config: DictConfig, sweep_dir: Path) -> None:
        """The tracker's parent run for the sweep, before any job: an unreachable tracker stops the sweep here,
        in one line, before anything is computed."""
        from ragsweep.errors import RagsweepError

        try:
            tracker(config).start_sweep(str(config.sweep_name), sweep_dir)
        except RagsweepError as err:
            log.error("%s", err)
            sys.exit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.is_dir():
            statuses = read_statuses(sweep_dir)
            code = summarize(statuses)
            record_latest(Path(config.results_dir) / str(config.sweep_name), [Path(d) for _, ok, d in statuses if ok],
                          sum(1 for _, ok, _ in statuses if not ok))
            table = print_results(config, [Path(detail) for _, ok, detail in statuses if ok])
            self.end_tracking(config, sweep_dir, code == 0, table)
            if code:
                sys.exit(code)
            if self.fingerprint:
                from ragsweep.engine import uptodate

                path = uptodate.manifest_file(Path(config.results_root), self.fingerprint)
                uptodate.record(path, self.fingerprint, [detail for _, _, detail in statuses])

    @staticmethod
    def end_tracking(config: DictConfig, sweep_dir: Path, ok: bool, table: Path | None) -> None:
        from ragsweep.errors import RagsweepError

        try:
            tracker(config).end_sweep(sweep_dir, ok, table)
        except RagsweepError as err:  # the runs are written and logged; only the parent's closing failed
            log.error("%s", err)
