"""tracking=none: the run folder only (the default)."""

from __future__ import annotations

from pathlib import Path

from ragsweep.registry import TRACKERS


@TRACKERS.register("none")
class NoTracker:
    def start_sweep(self, sweep_name: str, sweep_dir: Path) -> None:
        pass

    def log_run(self, run_dir: Path, sweep_dir: Path | None) -> None:
        pass

    def end_sweep(self, sweep_dir: Path, ok: bool, report: Path | None) -> None:
        pass
