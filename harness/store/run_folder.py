"""A run folder read back (results/runs/<sweep>/<run>/): the one reader of what a run wrote, used by the
leaderboard, the gate, pairwise judging, the chunking study and the sweep manifest, as MTEB's results reader
is. An unreadable folder is one DataError naming the file and what is wrong with it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragsweep.errors import DataError

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
    metrics: dict[str, Any]  # metrics.json: means, summary, components, headline metrics, data identity
    info: dict[str, Any]  # run.json: provenance, stages, data files, code identities

    @classmethod
    def read(cls, path: Path, required: tuple[str, ...] = ()) -> RunFolder:
        """The folder's metrics.json (holding the ``required`` keys) and run.json (empty where a folder written
        by hand has none), and its records.parquet's footer: a folder whose records cannot be read is not a run
        to show, compare or gate against."""
        import pyarrow.parquet as pq

        metrics = _json_object(path / "metrics.json")
        missing = [k for k in required if k not in metrics]
        if missing:
            raise DataError(path / "metrics.json", f"lacks {missing}")
        try:
            pq.read_metadata(path / "records.parquet")
        except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
            raise DataError(path / "records.parquet", f"unreadable ({str(err).splitlines()[0]})") from None
        info = _json_object(path / "run.json") if (path / "run.json").exists() else {}
        return cls(path, metrics, info)

    def records(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self.path / "records.parquet")


def read_run_info(path: Path) -> dict[str, Any]:
    """run.json alone (what the run read and ran), for a manifest written right after the run."""
    return _json_object(path / "run.json")
