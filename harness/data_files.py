"""Reading a data file the way every reader in the package does: UTF-8 text, JSON without duplicate keys or lone
surrogates, CSV, JSONL records numbered from 1; a bad file or record is one error naming the file, the record and
the field. Suites, calibration sets, TREC files and other systems' outputs all read through here."""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ragsweep.errors import DataError

MAX_REPORTED = 10  # bad records named in one error; the rest are counted
MAX_METADATA_DEPTH = 32  # deeper metadata is refused: nothing a suite needs, and Arrow and hashing have limits
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def require_file(path: Path) -> Path:
    if not path.exists():
        raise DataError(path, missing_file_hint(path))
    return path


def missing_file_hint(path: Path) -> str:
    """Why a suite file is missing and what to set: a suite path never given (``???``); a folder that holds other
    files of the same kind (FlashRAG's NQ ships test.jsonl, not dev.jsonl: ``task.questions=test.jsonl``); else
    the folder to point at."""
    if "???" in path.parts:
        return "file not found: this suite needs its folder, task.path=DIR (ragsweep run task=<suite> task.path=DIR)"
    folder = path.parent
    if folder.is_dir() and path.suffix:
        siblings = sorted(p.name for p in folder.glob(f"*{path.suffix}") if p.is_file())
        if siblings:
            example = next((n for n in siblings if "corpus" not in n), siblings[0])
            return (f"file not found; {folder} holds {', '.join(siblings[:5])}{' ...' if len(siblings) > 5 else ''}: "
                    f"name one, e.g. task.questions={example} (or the task's key for this file)")
    return "file not found (set task.path to the folder that holds this suite)"


def inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` when it stays inside ``root`` (no absolute path, no ``..`` escape), else None."""
    if not relative or Path(relative).is_absolute():
        return None
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root.resolve()) else None


def read_text(path: Path, bom: bool = False) -> str:
    """The file as UTF-8 text; a non-UTF-8 byte is one error naming its offset. ``bom``: drop a leading
    UTF-8 byte-order mark (never for corpora, whose offsets count every code point)."""
    raw = require_file(path).read_bytes()
    try:
        return raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8: byte 0x{raw[err.start]:02x} at byte offset {err.start}") from None


def _no_duplicate_keys(path: Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise DataError(path, f"key {key!r} appears twice in one JSON object (the later value would replace the earlier)", field=key)
            out[key] = value
        return out

    return hook


def parse_json(path: Path, text: str, record: object = None) -> Any:
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}" if record is None else None
        raise DataError(path, f"invalid JSON{' at ' + where if where else ''} ({err.msg})", record=record) from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to read", record=record) from None
    if SURROGATE_ESCAPE.search(text):  # valid JSON, but a lone surrogate is no text: it cannot be stored or hashed
        field = _lone_surrogate(value, "")
        if field is not None:
            raise DataError(path, "a lone surrogate escape (\\ud800-\\udfff without its pair) is not text", record=record, field=field or None)
    return value


def _lone_surrogate(value: Any, where: str) -> str | None:
    """The JSON path of the first string (or key) holding a lone surrogate, else None."""
    stack = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return at
        elif isinstance(item, dict):
            for key, child in item.items():
                if any("\ud800" <= ch <= "\udfff" for ch in key):
                    return at
                stack.append((child, f"{at}.{key}" if at else key))
        elif isinstance(item, list):
            stack.extend((child, f"{at}[{i}]") for i, child in enumerate(item))
    return None


def nesting_depth(value: Any) -> int:
    """How many levels of lists and objects ``value`` has (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_json(path: Path) -> Any:
    return parse_json(path, read_text(path, bom=True))


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a UTF-8 CSV (a byte-order mark is dropped)."""
    reader = csv.DictReader(io.StringIO(read_text(path, bom=True), newline=""))
    try:
        rows = list(reader)
    except csv.Error as err:
        raise DataError(path, f"malformed CSV ({err})", record=f"line {reader.line_num}") from None
    return list(reader.fieldnames or []), rows


def read_records(path: Path) -> list[dict[str, Any]]:
    """A JSON list of objects, or JSON Lines (one object per line; blank lines skipped) when the name ends
    .jsonl."""
    return [rec for _, rec in numbered_records(path)]


def record_label(path: Path, number: int) -> str:
    """How errors name record ``number`` of ``path``: its line in JSON Lines, its position in a JSON list."""
    return f"line {number}" if path.suffix == ".jsonl" else str(number)


def numbered_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``read_records`` with each record's number: its 1-based line in JSON Lines (blank lines count), its
    1-based position in a JSON list."""
    if path.suffix != ".jsonl":
        records = read_json(path)
        if not isinstance(records, list):
            raise DataError(path, f"expected a JSON list of records, got {type(records).__name__}")
        numbered = list(enumerate(records, start=1))
    else:
        bad = RecordErrors(path)
        numbered = []
        for n, line in enumerate(read_text(path, bom=True).splitlines(), start=1):
            if line.strip():
                with bad.collect():
                    numbered.append((n, parse_json(path, line, record=f"line {n}")))
        bad.raise_if_any()
    bad = RecordErrors(path)
    for n, rec in numbered:
        if not isinstance(rec, dict):
            bad.add(f"expected a JSON object, got {type(rec).__name__}", record=f"line {n}" if path.suffix == ".jsonl" else n)
    bad.raise_if_any()
    return numbered


class RecordErrors:
    """Every bad record of one file, raised as one DataError: the first MAX_REPORTED named, the rest counted."""

    def __init__(self, path: object):
        self.path = str(path)
        self.errors: list[DataError] = []

    def add(self, message: str, record: object = None, field: str | None = None) -> None:
        self.errors.append(DataError(self.path, message, record=record, field=field))

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Run one record's checks; a DataError it raises is kept and the caller goes on to the next record."""
        try:
            yield
        except DataError as err:
            self.errors.append(err)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise self.errors[0]
        prefix = self.path + ", "
        parts = [str(e).removeprefix(prefix) for e in self.errors[:MAX_REPORTED]]
        more = len(self.errors) - MAX_REPORTED
        raise DataError(self.path, f"{len(self.errors)} bad records: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else ""))


def text_field(rec: dict[str, Any], key: str, path: object, record: object) -> str:
    """A required string field with something besides whitespace in it."""
    value = rec.get(key)
    if not isinstance(value, str):
        got = "missing" if value is None else f"expected a string, got {type(value).__name__}"
        raise DataError(path, got, record=record, field=key)
    if not value.strip():
        raise DataError(path, "empty or whitespace only", record=record, field=key)
    return value


