"""What a run folder's two JSON files hold, as typed, versioned models: metrics.json (``RunMetrics``) and run.json
(``RunInfo``). The runner writes through ``checked_metrics`` / ``checked_info`` and store/run_folder.py reads through
``read_metrics`` / ``read_info``, so a field of the wrong type is one DataError naming the file and the field,
whichever side meets it.

Formats (the ``format`` field of both files):

1. Folders written before runs carried a format. They are read by upgrading: ``configuration`` is the run's name
   (run.json, else the folder's) without its config hash, as such runs named themselves; what a hand-written
   folder lacks stays absent, as before.
2. ``format`` in both files; ``configuration`` in both: the run's component choices and named overrides without
   the config hash, what the gate pairs a run with its baseline by. Every field of the models is required.

A folder of a newer format than this ragsweep reads is refused with one line, never half-read.
"""

from __future__ import annotations

import types
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, TypedDict

from ragsweep.errors import DataError

RUN_FORMAT = 2
OPTIONAL_FIELDS = frozenset({"scheduler", "lower_is_better", "breakdowns", "judges", "self_judged", "assessment"})  # written only where they apply


class MetricStat(TypedDict):
    """One metric over a run's queries: mean, spread, 95% interval, and how many queries it covers."""

    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int


class RunIdentity(TypedDict, total=False):
    """What both files carry: their format, and which run of which sweep they describe."""

    format: int
    configuration: str
    sweep: str
    data_identity: str


class RunMetrics(RunIdentity, total=False):
    """metrics.json: what the leaderboard, gate and trackers read of a run."""

    metrics: dict[str, MetricStat]
    summary: dict[str, Any]
    components: dict[str, str]
    choices: dict[str, str | None]
    headline: str | None
    headline_metrics: list[str]
    lower_is_better: list[str]  # only where a column is better lower (OPTIONAL_FIELDS)
    breakdowns: dict[str, Any]
    judges: dict[str, Any]  # judged column -> its judge and calibration
    self_judged: str  # the model that generated and judged


class RunInfo(RunIdentity, total=False):
    """run.json: what the run read and ran (provenance, stages, data files, code identities)."""

    run: str
    config_hash: str
    seed: int
    git: dict[str, Any]
    packages: dict[str, Any]
    machine: dict[str, Any]
    scheduler: dict[str, Any]  # only in a job of a batch scheduler (Slurm: job id, node, partition, restarts)
    data_hashes: dict[str, Any]
    data_files: list[str]
    failed_llm_results: int
    code: dict[str, Any]
    task: dict[str, Any]
    retrieval: dict[str, Any]
    notes: list[str]
    unscored_queries: dict[str, int]
    stages: dict[str, Any]
    assessment: dict[str, Any]  # only with an assessor
    cache_hits: int
    counters: dict[str, Any]
    wall_s: float


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return _whole(v) or isinstance(v, float)


CHECKS: dict[type, Callable[[Any], bool]] = {int: _whole, float: _number, str: lambda v: isinstance(v, str),
                                             dict: lambda v: isinstance(v, dict), list: lambda v: isinstance(v, list)}
WORDS = {int: "a whole number", float: "a number", str: "a string", dict: "an object", list: "a list"}


@lru_cache(maxsize=None)
def _field_kinds(model: type) -> dict[str, tuple[tuple[type, ...], bool]]:
    """Each field of a model -> (the types it accepts, whether null is allowed), from its type hints."""
    out = {}
    for name, hint in typing.get_type_hints(model).items():
        members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        out[name] = (tuple(typing.get_origin(m) or m for m in members if m is not type(None)), type(None) in members)
    return out


def _check_fields(source: Path | str, data: dict[str, Any], model: type, required: bool) -> None:
    for name, (kinds, nullable) in _field_kinds(model).items():
        if name not in data:
            if required and name not in OPTIONAL_FIELDS:
                raise DataError(source, "missing", field=name)
            continue
        value = data[name]
        if not (value is None and nullable) and not any(CHECKS[k](value) for k in kinds):
            raise DataError(source, f"expected {' or '.join(WORDS[k] for k in kinds)}{' or null' if nullable else ''}, "
                                    f"got {type(value).__name__}", field=name)


def _check_stats(source: Path | str, stats: dict[str, Any]) -> None:
    for name, stat in stats.items():
        if not isinstance(stat, dict):
            raise DataError(source, f"expected an object, got {type(stat).__name__}", field=f"metrics.{name}")
        for key in MetricStat.__annotations__:
            value = stat.get(key, ...)
            kind = int if key == "n" else float
            if value is ... or not CHECKS[kind](value):
                raise DataError(source, "missing" if value is ... else f"expected {WORDS[kind]}, got {type(value).__name__}",
                                field=f"metrics.{name}.{key}")


def _version(source: Path | str, data: dict[str, Any]) -> int:
    version = data.get("format", 1)
    if not _whole(version) or version < 1:
        raise DataError(source, f"expected a run format version (a whole number >= 1), got {version!r}", field="format")
    if version > RUN_FORMAT:
        raise DataError(source, f"written in run format {version}, newer than the {RUN_FORMAT} this ragsweep reads: upgrade ragsweep",
                        field="format")
    return version


def configuration_of(run_name: str) -> str:
    """A format-1 run's identity: its name without the last ``__`` part, which format-1 runs always ended with their
    config hash (``a__b__1a2b3c4d`` -> ``a__b``), as the gate of that format read it."""
    return run_name.rsplit("__", 1)[0]


def _upgraded(data: dict[str, Any], run_name: str) -> dict[str, Any]:
    """A format-1 document as format 2 reads it: its format and configuration added, nothing else changed."""
    return {**data, "format": RUN_FORMAT, "configuration": data.get("configuration") or configuration_of(run_name)}


def read_metrics(source: Path | str, data: dict[str, Any], run_name: str) -> RunMetrics:
    """metrics.json as read back: checked field by field, a format-1 file upgraded (``run_name``: run.json's run,
    else the folder name)."""
    version = _version(source, data)
    _check_fields(source, data, RunMetrics, required=version == RUN_FORMAT)
    if isinstance(data.get("metrics"), dict):
        _check_stats(source, data["metrics"])
    return RunMetrics(**(_upgraded(data, run_name) if version < RUN_FORMAT else data))  # type: ignore[typeddict-item]


def read_info(source: Path | str, data: dict[str, Any], run_name: str) -> RunInfo:
    """run.json as read back: checked field by field, a format-1 file upgraded."""
    version = _version(source, data)
    _check_fields(source, data, RunInfo, required=version == RUN_FORMAT)
    return RunInfo(**(_upgraded(data, run_name) if version < RUN_FORMAT else data))  # type: ignore[typeddict-item]


def checked_metrics(metrics: dict[str, Any]) -> RunMetrics:
    """metrics.json as a run writes it: the current format, every field present and of its type."""
    data = {**metrics, "format": RUN_FORMAT}
    _check_fields("metrics.json", data, RunMetrics, required=True)
    _check_stats("metrics.json", data["metrics"])
    return RunMetrics(**data)  # type: ignore[typeddict-item]


def checked_info(info: dict[str, Any]) -> RunInfo:
    """run.json as a run writes it: the current format, every field present and of its type."""
    data = {**info, "format": RUN_FORMAT}
    _check_fields("run.json", data, RunInfo, required=True)
    return RunInfo(**data)  # type: ignore[typeddict-item]
