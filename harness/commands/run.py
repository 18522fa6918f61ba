"""``ragsweep run [overrides]`` (or ``python -m ragsweep.commands.run``): one run, or a sweep with ``-m`` or ``+sweep=<preset>``.

A single run that fails prints one line and exits 2. In a sweep, a failed job writes its reason beside
its Hydra job folder and the other jobs go on; the sweep then prints "N of M runs failed" and exits 1
(ragsweep.commands.sweep_status).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from ragsweep.offline import configure_environment
from ragsweep.paths import CONFIG_DIR
from ragsweep.errors import RagsweepError
from ragsweep.store.results import GROUPS

log = logging.getLogger("ragsweep.commands.run")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def main(cfg: DictConfig) -> None:
    configure_environment()  # before any model library reads its settings (this process or a sweep worker)
    hydra_cfg = HydraConfig.get()
    choices = {g: hydra_cfg.runtime.choices.get(g, "?") for g in GROUPS}
    overrides = list(hydra_cfg.overrides.task)
    if hydra_cfg.mode != RunMode.MULTIRUN:
        try:
            from ragsweep.engine.runner import execute

            execute(cfg, choices, overrides)
        except RagsweepError as err:
            log.error("%s", err)
            sys.exit(2)
        return
    from ragsweep.commands.sweep_status import write_status

    with open_dict(cfg):
        cfg.progress = False  # parallel jobs' bars would draw over each other; the sweep logs its progress
    parallel_jobs = int(hydra_cfg.launcher.get("n_jobs") or 1) if "launcher" in hydra_cfg else 1
    ok, detail = sweep_job(cfg, choices, overrides, Path(hydra_cfg.runtime.output_dir).parent, f"job {hydra_cfg.job.num}", parallel_jobs)
    write_status(hydra_cfg.runtime.output_dir, ok, detail)


def sweep_job(cfg: DictConfig, choices: dict[str, str], overrides: Sequence[str] = (), sweep_dir: Path | None = None,
              label: str = "", parallel_jobs: int = 1) -> tuple[bool, str]:
    """One job of a sweep: (True, run folder) or (False, the one-line reason); it never raises, so the
    launcher runs every other job."""
    from ragsweep.engine.runner import execute

    ignore_interrupt_in_workers()
    try:
        return True, str(execute(cfg, choices, overrides, sweep_dir, label, parallel_jobs))
    except RagsweepError as err:
        log.error("%s", err)
        return False, str(err).splitlines()[0]
    except Exception as err:  # a bug, not bad input: the traceback goes to this job's log, the sweep goes on
        log.exception("run failed")
        return False, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def ignore_interrupt_in_workers() -> None:
    """In a sweep worker process, Ctrl-C is the command's to answer: the launcher stops the workers and the command
    says in two lines what was written (commands/cli.py), instead of every worker printing its traceback. A job that
    runs in the command's own process keeps the default."""
    import os
    import signal

    from ragsweep.commands.sweep_status import MAIN_PID

    if os.environ.get(MAIN_PID) not in (None, str(os.getpid())):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def quiet_known_warnings() -> None:
    """joblib's loky restarts a worker whose memory grew (models loaded in a run) and warns "A worker stopped
    while some jobs were given to the executor" on nearly every sweep: expected, not a fault, so not shown."""
    import warnings

    warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given to the executor")


if __name__ == "__main__":
    quiet_known_warnings()
    main()
