"""What the caches save on a sweep. In-process: a cold sweep's wall time vs the time the same runs would take
if every run computed every stage itself (each stage's measured compute time, summed over the runs that
use it), then the same sweep again (all hits). Through the command, as a user runs it: ``ragsweep sweep NAME``
cold (empty results folder), again (up to date: nothing runs), and again with ``--rerun`` (every job through
Hydra, every stage a cache hit), each a fresh process, the three repeated. Writes results/bench/sweep_cache.json."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from ragsweep.paths import CONFIG_DIR, results_root
from ragsweep.bench.common import out_file, positive_int, write_result
from ragsweep.store.results import GROUPS
from ragsweep.engine.runner import execute
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.bench.sweep_cache")


def run_sweep(root: Path, grid: dict[str, list[str]]) -> tuple[float, list[dict]]:
    infos = []
    t0 = time.perf_counter()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for combo in itertools.product(*grid.values()):
            overrides = [f"{k}={v}" for k, v in zip(grid, combo)]
            cfg = compose("config", overrides=[f"cache_dir={root}/cache", f"results_dir={root}/runs", "progress=false",
                                               "sweep_name=bench", *overrides], return_hydra_config=True)
            choices = {g: cfg.hydra.runtime.choices.get(g) for g in GROUPS}
            with open_dict(cfg):
                del cfg["hydra"]
            infos.append(json.loads((execute(cfg, choices) / "run.json").read_text()))
    return time.perf_counter() - t0, infos


def command_sweep(preset: str, repeats: int) -> dict[str, object]:
    """Wall times of ``ragsweep sweep PRESET``: cold, up to date, and --rerun (stage cache only), each repeat in
    a new results folder."""
    import subprocess
    import sys

    times: dict[str, list[float]] = {"cold": [], "up_to_date": [], "rerun_all_stage_hits": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            for side, extra in (("cold", []), ("up_to_date", []), ("rerun_all_stage_hits", ["--rerun"])):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "ragsweep", "--results", tmp, "sweep", preset, *extra], check=True, capture_output=True)
                times[side].append(time.perf_counter() - t0)
                log.info("ragsweep sweep %s %s: %.2f s", preset, side, times[side][-1])
    med = {side: statistics.median(v) for side, v in times.items()}
    return {
        "preset": preset, "cold_s": med["cold"], "up_to_date_s": med["up_to_date"], "rerun_all_stage_hits_s": med["rerun_all_stage_hits"],
        "up_to_date_vs_cold": med["up_to_date"] / med["cold"], "rerun_all_stage_hits_vs_cold": med["rerun_all_stage_hits"] / med["cold"],
        "runs_s": times,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep bench sweep_cache", description=plain_doc(__doc__))
    parser.add_argument("--out", type=out_file, default=results_root() / "bench" / "sweep_cache.json", help="where the result goes (default: <results>/bench/sweep_cache.json)")
    parser.add_argument("--repeats", type=positive_int, default=2, help="timings per side, alternating")
    parser.add_argument("--command-sweep", default="default", help="preset timed through the command ('none': skip)")
    args = parser.parse_args(argv)
    setup_logging()
    for noisy in ("ragsweep.engine.runner", "ragsweep.engine.pipeline", "ragsweep.models.causal_lm", "ragsweep.models.embedders"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    grid = {
        "task": ["multihop_mini", "span_mini"],
        "chunker": ["fixed_tokens", "recursive", "sentences"],
        "retriever": ["bm25", "dense", "hybrid"],
        "generator": ["extractive", "none"],
    }
    colds, warms = [], []
    for _ in range(args.repeats):  # each repeat: a cold sweep in an empty cache, then the same sweep again
        with tempfile.TemporaryDirectory() as tmp:
            cold, infos = run_sweep(Path(tmp), grid)
            warm, _ = run_sweep(Path(tmp), grid)
        colds.append(cold)
        warms.append(warm)
    cold_s, warm_s = statistics.median(colds), statistics.median(warms)
    computed = {}  # stage key -> compute time, from the run that computed it
    uses = 0
    for info in infos:
        for name, stage in info["stages"].items():
            if stage["key"] and stage["status"] == "computed":
                computed[stage["key"]] = stage["wall_s"]
    no_cache_s = 0.0
    for info in infos:
        for name, stage in info["stages"].items():
            if stage["key"] in computed:
                uses += 1
                no_cache_s += computed[stage["key"]]
    write_result(args.out, {
        "runs": len(infos), "grid": grid, "stage_uses": uses, "unique_stages_computed": len(computed),
        "cold_sweep_s": cold_s, "unique_stage_compute_s": sum(computed.values()), "every_run_computes_everything_s": no_cache_s,
        "stage_compute_saved_ratio": no_cache_s / sum(computed.values()) if computed else None,
        # The cold sweep with each run paying for every stage itself instead of sharing.
        "estimated_sweep_without_cache_s": cold_s - sum(computed.values()) + no_cache_s,
        "rerun_sweep_s": warm_s, "rerun_vs_cold": warm_s / cold_s, "repeats": args.repeats, "cold_runs_s": colds, "rerun_runs_s": warms,
        "command": command_sweep(args.command_sweep, args.repeats) if args.command_sweep != "none" else None,
    })
