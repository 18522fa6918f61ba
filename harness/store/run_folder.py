"""A run folder read back (results/runs/<sweep>/<run>/): the one reader of what a run wrote, used by the
leaderboard, the gate, pairwise judging, the chunking study and the sweep manifest, as MTEB's results reader
is. An unreadable folder is one DataError naming the file and what is wrong with it. Both JSON files are read
through their typed, versioned models (ragsweep.run_results), which upgrade a folder written in an earlier format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragsweep.errors import DataError
from ragsweep.run_results import RunInfo, RunMetrics, read_info, read_metrics

if TYPE_CHECKING:
    import pandas as pd

LEADERBOARD_KEYS = ("metrics", "summary", "choices", "components")  # what a leaderboard row needs of metrics.json


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing") from None
    except (OSError, ValueError) as err:
        raise DataError(path, f"unreadable ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    if not isinstance(value, dict):
        raise DataError(path, f"expected a JSON object, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class RunFolder:
    path: Path
    metrics: RunMetrics  # metrics.json: means, summary, components, headline metrics, data identity
    info: RunInfo  # run.json: provenance, stages, data files, code identities

    @property
    def configuration(self) -> str:
        """The run's stored identity: its component choices and named overrides, without the config hash."""
        return self.metrics["configuration"]

    @classmethod
    def read(cls, path: Path, required: tuple[str, ...] = ()) -> RunFolder:
        """The folder's metrics.json (holding the ``required`` keys) and run.json (empty where a folder written
        by hand has none), and its records.parquet's footer: a folder whose records cannot be read is not a run
        to show, compare or gate against."""
        import pyarrow.parquet as pq

        raw_info = _json_object(path / "run.json") if (path / "run.json").exists() else {}
        name = raw_info.get("run") if isinstance(raw_info.get("run"), str) else path.name
        metrics = read_metrics(path / "metrics.json", _json_object(path / "metrics.json"), name)
        missing = [k for k in required if k not in metrics]
        if missing:
            raise DataError(path / "metrics.json", f"lacks {missing}")
        try:
            pq.read_metadata(path / "records.parquet")
        except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
            raise DataError(path / "records.parquet", f"unreadable ({str(err).splitlines()[0]})") from None
        return cls(path, metrics, read_info(path / "run.json", raw_info, name))

    def records(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self.path / "records.parquet")


def read_run_info(path: Path) -> RunInfo:
    """run.json alone (what the run read and ran), for a manifest written right after the run."""
    return read_info(path / "run.json", _json_object(path / "run.json"), path.name)


# Which runs the latest invocation of a sweep wrote (or found up to date): <runs>/.latest/<sweep>.json, beside the sweep
# folders rather than in one (a sweep folder holds run folders only). The gate judges these, not the newest folder per
# configuration, so runs of an older invocation never stand in for the new.
LATEST_FOLDER = ".latest"


def latest_record(sweep_dir: Path) -> Path:
    return sweep_dir.parent / LATEST_FOLDER / f"{sweep_dir.name}.json"


def record_latest(sweep_dir: Path, run_dirs: list[Path], failed: int = 0) -> None:
    """Record ``run_dirs`` as the latest invocation of the sweep whose runs folder is ``sweep_dir`` (a run written
    under another sweep name records there too), with how many of its jobs failed: a sweep whose every job failed
    leaves a record with no runs, never the previous invocation's."""
    import time

    from ragsweep.store.cache import atomic_write_bytes

    by_sweep: dict[Path, list[str]] = {Path(sweep_dir): []}
    for run_dir in run_dirs:
        by_sweep.setdefault(Path(run_dir).parent, []).append(Path(run_dir).name)
    for folder, names in by_sweep.items():
        record = {"runs": sorted(names), "failed_jobs": failed, "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic_write_bytes(latest_record(folder), json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))


def latest_of_sweep(sweep_dir: Path) -> tuple[list[Path], int] | None:
    """(run folders, failed jobs) of the sweep's latest invocation, or None when none was recorded (runs written by
    ``ragsweep run``, or before such records). An unreadable record is a DataError."""
    path = latest_record(sweep_dir)
    if not path.exists():
        return None
    record = _json_object(path)
    runs, failed = record.get("runs"), record.get("failed_jobs", 0)
    if not isinstance(runs, list) or not all(isinstance(r, str) and r and "/" not in r and r not in (".", "..") for r in runs):
        raise DataError(path, "not a list of run folder names", field="runs")
    if not isinstance(failed, int) or isinstance(failed, bool) or failed < 0:
        raise DataError(path, "not a count", field="failed_jobs")
    return [sweep_dir / r for r in runs], failed
