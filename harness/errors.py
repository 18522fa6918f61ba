"""Errors that stop a run with one line naming the file, the record and the field."""

from __future__ import annotations

import difflib
from typing import Sequence


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``options`` to a mistyped ``word``, else an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


class RagsweepError(Exception):
    """Base class: the CLI prints ``str(err)`` alone, without a traceback."""


class DataError(RagsweepError):
    def __init__(self, path: object, message: str, record: object = None, field: str | None = None):
        self.path, self.record, self.field = str(path), record, field
        where = self.path
        if record is not None:
            where += f", record {record}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class ConfigError(RagsweepError):
    pass


class OfflineError(RagsweepError):
    """A model or data set would have to come from a hub that this run may not reach."""


class ContractError(RagsweepError):
    """A component returned something its stage cannot use (ragsweep.engine.contracts)."""


class WriteError(RagsweepError):
    """A file cannot be written (a read-only folder, a full disk): said once, with the folder to fix."""


class CacheError(WriteError):
    """The cache cannot be written (read-only or full): said once, with the folder to fix."""
