from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.types import Document, Query

BUNDLED_DATA = Path(__file__).resolve().parent / "data"


def resolve_path(path: str | Path) -> Path:
    """``bundled:<name>`` is a suite shipped in tasks/data; anything else is a filesystem path."""
    text = str(path)
    if text.startswith("bundled:"):
        return BUNDLED_DATA / text.removeprefix("bundled:")
    return Path(text).expanduser()


def require_file(path: Path) -> Path:
    if not path.exists():
        raise DataError(path, "file not found (set task.path to the folder that holds this suite)")
    return path


def read_json(path: Path) -> Any:
    try:
        return json.loads(require_file(path).read_text("utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"invalid JSON at line {err.lineno} ({err.msg})") from None


def read_records(path: Path) -> list[dict[str, Any]]:
    """A JSON list, or JSON Lines (one object per line; blank lines skipped) when the name ends .jsonl."""
    if path.suffix != ".jsonl":
        records = read_json(path)
        if not isinstance(records, list):
            raise DataError(path, "expected a JSON list of records")
        return records
    records = []
    for n, line in enumerate(require_file(path).read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(path, f"invalid JSON ({err.msg})", record=f"line {n}") from None
    return records


class Task(ABC):
    """Bump ``version`` when a change alters the loaded documents or queries (load stage cache key)."""

    version = "1"
    label_params: tuple[str, ...] = ()
    language = "en"  # "en" or "th": what word, sentence and answer normalisation use
    breakdown_keys: tuple[str, ...] = ()  # Query.metadata keys that metrics.json breaks results down by
    headline_metric = "doc_recall@5"  # what the leaderboard sorts this suite by unless told otherwise

    @abstractmethod
    def data_files(self) -> list[Path]:
        """Every file the suite reads: their hashes are part of the load stage's cache key."""

    @abstractmethod
    def load(self) -> tuple[list[Document], list[Query]]: ...

    def describe(self) -> dict[str, Any]:
        """Facts about how the suite was built that a reader of run.json must know (empty by default)."""
        return {}
