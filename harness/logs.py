"""One logging set-up for every command, at the verbosity ``ragsweep -q`` / ``-v`` chose (RAGSWEEP_LOG_LEVEL, which
sweep workers inherit): quiet shows warnings and errors only; verbose adds ragsweep's own debug lines, not those of
the libraries it calls."""

from __future__ import annotations

import logging
import os

LEVEL_ENV = "RAGSWEEP_LOG_LEVEL"
LEVELS = {"quiet": "WARNING", "normal": "INFO", "verbose": "DEBUG"}


def level_name() -> str:
    value = os.environ.get(LEVEL_ENV, "INFO").upper()
    return value if value in LEVELS.values() else "INFO"


def setup_logging(fmt: str = "%(message)s") -> None:
    level = level_name()
    logging.basicConfig(level="INFO" if level == "DEBUG" else level, format=fmt)
    logging.getLogger("ragsweep").setLevel(level)


def hydra_overrides() -> list[str]:
    """The Hydra overrides that give a run or sweep (its main process and its jobs) the same verbosity."""
    level = level_name()
    if level == "WARNING":  # and no progress bars: quiet means quiet
        return ["hydra.job_logging.root.level=WARNING", "hydra.hydra_logging.root.level=WARNING", "progress=false"]
    return ["hydra.verbose=ragsweep"] if level == "DEBUG" else []
