"""Readers of one judge reply: raw text in, a score in [0, 1] out, or None when the reply cannot be read
(then the verdict is invalid and counted, never scored). A rubric YAML names its readers here by name, or
any function by import path (``my_pkg.readers.concise``)."""

from __future__ import annotations

import importlib
from typing import Callable

from ragsweep.errors import ConfigError
from ragsweep.metrics import judge as jm

Reader = Callable[[str], "float | None"]

READERS: dict[str, Reader] = {
    "coverage": lambda raw: jm.coverage_score(jm.parse_json_object(raw)),
    "contradiction": lambda raw: jm.contradiction_score(jm.parse_json_object(raw)),
    "correctness_1_to_5": jm.correctness_score,
    "yes_no": jm.yes_no_score,
    "attribution_rate": jm.attribution_rate,
}

# The range of each built-in reader's scores, so a score can be set against a human label scale (judge-eval).
# A reader given by import path scores in [0, 1] unless its rubric column says ``range: [low, high]``.
READER_RANGES: dict[str, tuple[float, float]] = {
    "coverage": (0.0, 100.0), "contradiction": (0.0, 1.0), "correctness_1_to_5": (1.0, 5.0), "yes_no": (0.0, 1.0), "attribution_rate": (0.0, 1.0),
}


# The labels a person chooses between when labelling a built-in reader's column (ragsweep label), each with the
# score the reader gives that verdict, so human labels and the judge's scores share one scale. A rubric column sets
# its own with ``labels: {name: score}``.
READER_LABELS: dict[str, dict[str, float]] = {
    "yes_no": {"YES": 1.0, "NO": 0.0},
    "coverage": dict(jm.COVERAGE_POINTS),
    "contradiction": dict(jm.CONTRADICTION_POINTS),
    "correctness_1_to_5": {str(k): float(k) for k in range(1, 6)},
    "attribution_rate": {"all claims supported": 1.0, "some supported": 0.5, "none supported": 0.0},
}


def label_scale(column: dict, where: str) -> dict[str, float]:
    """A rubric column's human labels and their scores: its own ``labels``, else its built-in reader's."""
    given = column.get("labels")
    if given is not None:
        if not (isinstance(given, dict) and given and all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                                                          for k, v in given.items())):
            raise ConfigError(f"{where}: labels must map each label a person may choose to its score, not {given!r}")
        return {k: float(v) for k, v in given.items()}
    scale = READER_LABELS.get(column.get("reader", ""))
    if scale is None:
        raise ConfigError(f"{where}: its reader {column.get('reader')!r} has no human labels: give the column labels: {{name: score, ...}}")
    return dict(scale)


def score_range(column: dict) -> tuple[float, float]:
    """A rubric column's score range: its own ``range``, else its built-in reader's, else [0, 1]."""
    given = column.get("range")
    if given is not None:
        if not (isinstance(given, (list, tuple)) and len(given) == 2 and all(isinstance(v, (int, float)) for v in given) and given[0] < given[1]):
            raise ConfigError(f"a rubric column's range must be [low, high] with low < high, not {given!r}")
        return float(given[0]), float(given[1])
    return READER_RANGES.get(column.get("reader", ""), (0.0, 1.0))


def reader(name: str, rubric: str) -> Reader:
    """The reader a rubric names: a built-in name, or a function by import path."""
    if name in READERS:
        return READERS[name]
    module_name, _, attr = name.rpartition(".")
    if not module_name:
        raise ConfigError(f"judge rubric {rubric!r}: unknown reader {name!r}; known: {', '.join(sorted(READERS))}, or a function by import path")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"judge rubric {rubric!r}: reader {name!r} cannot be imported ({err})") from None
    if not callable(fn):
        raise ConfigError(f"judge rubric {rubric!r}: reader {name!r} is not a function")
    return fn
