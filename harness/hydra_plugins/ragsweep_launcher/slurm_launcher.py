"""``hydra/launcher=slurm``: submitit's Slurm launcher, with what a sweep needs of it.

- A job that Slurm ends (its time limit, ``scancel``, a node failure, out of memory) is one failed run in the sweep's
  "N of M runs failed" summary, with Slurm's state and reason, and the other jobs' results still count. Hydra's
  submitit launcher raises at the first such job, so the sweep ended with a traceback and no summary.
- A job past its time limit with no requeue left (``hydra.launcher.max_num_timeout``) runs until Slurm ends it
  (state TIMEOUT), instead of submitit failing it when Slurm's warning signal comes (``signal_delay_s`` early): a job
  that finishes in its last minutes is kept. Every stage it finished is in the cache either way.
- Preemption is Slurm's or submitit's as the cluster sets it up (a requeued job starts again from the cache).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf

log = logging.getLogger("ragsweep.launcher.slurm")

EXECUTOR_SETTINGS = {"submitit_folder", "max_num_timeout"}  # given to submitit's executor, not to each job


class RagsweepSlurmLauncher(SlurmLauncher):
    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """What each Slurm job runs."""
        from ragsweep.cluster.scheduler import let_slurm_end_a_timed_out_job

        let_slurm_end_a_timed_out_job()
        return super().__call__(*args, **kwargs)

    def job_parameters(self) -> dict[str, Any]:
        """What each job asks Slurm for, in submitit's executor names (GPUs, constraint, the array's cap, ...)."""
        shared = set(OmegaConf.structured(BaseQueueConf).keys())  # submitit's names for these have no slurm_ prefix
        return {k if k in shared else f"slurm_{k}": v for k, v in self.params.items() if k not in EXECUTOR_SETTINGS}

    def executor(self) -> Any:
        import submitit

        executor = submitit.AutoExecutor(folder=self.params["submitit_folder"], cluster="slurm",
                                         slurm_max_num_timeout=self.params.get("max_num_timeout", 0))
        executor.update_parameters(**self.job_parameters())
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from submitit.core.utils import FailedSubmissionError, UncompletedJobError

        from ragsweep.commands.sweep_status import record_ended_job

        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:  # Hydra's permission bits for the sweep folder, as its launchers apply them
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        numbers = [initial_job_idx + i for i in range(len(job_overrides))]
        for number, overrides in zip(numbers, job_overrides):
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
        state = Singleton.get_state()
        try:
            jobs = self.executor().map_array(self, [list(o) for o in job_overrides], ["hydra.sweep.dir"] * len(numbers),
                                              numbers, [f"job_id_for_{n}" for n in numbers], [state] * len(numbers))
        except (UncompletedJobError, FailedSubmissionError, OSError, RuntimeError) as err:  # sbatch refused, or is not there
            said = [line for line in str(err).splitlines() if line.strip()]
            log.error("Slurm did not take the sweep's jobs: %s (is SLURM_CONF right, and do the partition and the resources "
                      "asked for exist?)", said[-1] if said else type(err).__name__)
            sys.exit(2)  # one line, as a tracker that cannot start: Hydra would print an exception with its traceback
        log.info("submitted to Slurm as job array %s (%d tasks) -> %s", jobs[0].job_id.split("_")[0], len(jobs), sweep_dir)
        returns = []
        for number, job in zip(numbers, jobs):
            try:
                returns.append(job.results()[0])
            except UncompletedJobError as err:  # FailedJobError included: Slurm ended it, or submitit could not run it
                record_ended_job(sweep_dir / str(number), job.job_id, str(err))
        return returns
