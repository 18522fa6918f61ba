"""``python -m harness.run [overrides]``: one run, or a sweep with ``-m`` or ``+sweep=<preset>``.

A single run that fails prints one line and exits 2. In a sweep, a failed job writes its reason beside
its Hydra job folder and the other jobs go on; the sweep then prints "N of M runs failed" and exits 1
(harness.sweep_status).
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.errors import RagsweepError
from harness.results import GROUPS

log = logging.getLogger("harness.run")


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    choices = {g: hydra_cfg.runtime.choices.get(g, "?") for g in GROUPS}
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        from harness.runner import execute

        run_dir = execute(cfg, choices)
    except RagsweepError as err:
        log.error("%s", err)
        if not in_sweep:
            sys.exit(2)
        reason = str(err)
    except Exception as err:  # a bug, not bad input: the traceback goes to this job's log, the sweep goes on
        if not in_sweep:
            raise
        log.exception("run failed")
        reason = f"{type(err).__name__}: {err}"
    else:
        if in_sweep:
            from harness.sweep_status import write_status

            write_status(hydra_cfg.runtime.output_dir, True, str(run_dir))
        return
    from harness.sweep_status import write_status

    write_status(hydra_cfg.runtime.output_dir, False, reason.splitlines()[0] if reason else "failed")


if __name__ == "__main__":
    main()
