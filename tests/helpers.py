"""Run one config through Hydra's compose API and the real runner, in a temp folder."""

from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from ragsweep.store.results import GROUPS
from ragsweep.engine.runner import execute

CONFIGS = str(Path(__file__).resolve().parent.parent / "configs")


def run(tmp_path: Path, *overrides: str) -> tuple[Path, dict]:
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"cache_dir={tmp_path}/cache", f"results_dir={tmp_path}/runs", "progress=false", *overrides],
            return_hydra_config=True,
        )
    choices = {g: cfg.hydra.runtime.choices.get(g) for g in GROUPS}
    with open_dict(cfg):
        del cfg["hydra"]
    run_dir = execute(cfg, choices)
    return run_dir, json.loads((run_dir / "run.json").read_text())


def statuses(info: dict) -> dict[str, str]:
    return {k: v["status"] for k, v in info["stages"].items() if k != "score"}


def in_processes(target, args_per_process: list[tuple], timeout: float = 60) -> None:
    """Start one spawned process per argument tuple, each given a barrier as its last argument (so they start
    their contended work together, with no sleep), wait for all, and assert each exited 0."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(args_per_process))
    procs = [ctx.Process(target=target, args=(*args, barrier)) for args in args_per_process]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0
