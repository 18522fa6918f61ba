from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

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


class Task(ABC):
    """Bump ``version`` when a change alters the loaded documents or queries (load stage cache key)."""

    version = "1"
    label_params: tuple[str, ...] = ()
    language = "en"  # "en" or "th": what word, sentence and answer normalisation use

    @abstractmethod
    def data_files(self) -> list[Path]:
        """Every file the suite reads: their hashes are part of the load stage's cache key."""

    @abstractmethod
    def load(self) -> tuple[list[Document], list[Query]]: ...
