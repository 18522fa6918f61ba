"""``python -m harness.run [overrides]``: one run, or a sweep with ``-m`` or ``+sweep=<preset>``."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from harness.errors import RagsweepError
from harness.results import GROUPS

log = logging.getLogger("harness.run")


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    choices = {g: HydraConfig.get().runtime.choices.get(g, "?") for g in GROUPS}
    try:
        from harness.runner import execute

        execute(cfg, choices)
    except RagsweepError as err:
        log.error("%s", err)
        sys.exit(2)


if __name__ == "__main__":
    main()
