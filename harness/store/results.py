"""The files a run writes: results/runs/<sweep>/<run>/{config.yaml, records.parquet, metrics.json, run.json}.

records.parquet and metrics.json depend only on config, data and seed (byte-identical on a re-run);
run.json holds what differs between executions (wall times, cache hits, machine).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
import logging
from typing import TYPE_CHECKING, Any, Sequence


from ragsweep.store.cache import atomic_write_bytes
from ragsweep.config_keys import SERVING_KEYS, without_keys
from ragsweep.hashing import sha256_json
from ragsweep.registry import DISPLAY_NAME
from ragsweep.run_results import checked_info, checked_metrics

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("ragsweep.store.results")

GROUPS = ("task", "chunker", "retriever", "reranker", "selector", "generator", "judge", "assessor")
# Groups named in a run's folder name only when chosen (not ``none``): names of runs without them stay as they were.
OPTIONAL_GROUPS = ("assessor", "selector")  # named in a run's configuration only when chosen



def _label_value(value: Any) -> Any:
    """A list of member components (a hybrid's retrievers) reads ``bm25+dense(model)``."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        return "+".join(v["name"] + (f"({v['model']})" if v.get("model") else "") for v in value)
    return value


def component_label(component: dict[str, Any], label_params: tuple[str, ...]) -> str:
    """``name key=value ...`` over the parameters the component declares as identifying it; a component from outside
    shows its display name (``name:`` beside ``_target_``) rather than its import path."""
    shown = [f"{k}={_label_value(component[k])}" for k in label_params if component.get(k) not in (None, "")]
    return " ".join([component.get(DISPLAY_NAME) or component["name"], *shown])


# Overrides that say where or how a run executes, not what it computes: never part of its name.
NOT_NAMED = ("results_root", "results_dir", "cache_dir", "progress", "progress_every_s", "sweep_name", "rank_by", "hydra", "sweep", "tracking",
             "brackets")  # brackets add columns beside a run's own, the same run otherwise


# Where a suite's files are: never part of a run's name (the hash and the data identity tell such runs apart).
DATA_LOCATION_KEYS = frozenset({"path", "questions", "corpus", "corpora", "corpus_paths", "dataset", "queries", "ground_truth", "laws",
                                "keywords", "qrels", "suffix", "suffixes"})
PATH_PREFIXES = ("/", "./", "../", "~")


def named_overrides(overrides: Sequence[str]) -> list[str]:
    """The command-line overrides that change what a run computes and are not a group's config choice
    (``chunker.size=128``, ``top_k=5``; not ``chunker=recursive``, ``results_dir=...`` or ``+sweep=...``), and not
    where data lives (``task.path=...``, ``task.questions=test.jsonl``, any value that is a file path)."""
    shown = []
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        if not _ or key in GROUPS or key.split(".", 1)[0] in NOT_NAMED or key.rsplit(".", 1)[-1] in SERVING_KEYS:
            continue
        if (key.startswith(("task.", "outputs.")) and key.rsplit(".", 1)[-1] in DATA_LOCATION_KEYS) or value.strip("'\"").startswith(PATH_PREFIXES):
            continue
        shown.append(item.lstrip("+~"))
    return shown


def configuration(choices: dict[str, str], cfg: dict[str, Any], overrides: Sequence[str] = ()) -> str:
    """A run's readable identity, stable across unrelated config changes: per group the component's display name,
    else the config file chosen, and the parameters overridden on the command line (so chunk sizes 64 / 128 / 256
    read apart). Stored in metrics.json and run.json; the gate pairs runs by it."""
    chosen = [(cfg.get(g) or {}).get(DISPLAY_NAME) or choices.get(g, "?") for g in GROUPS if g not in OPTIONAL_GROUPS or choices.get(g) not in (None, "none")]
    parts = [*chosen, *named_overrides(overrides)]
    return "__".join(re.sub(r"[^A-Za-z0-9._=-]+", "_", p).strip("_") for p in parts)[:150]


def run_name(choices: dict[str, str], cfg: dict[str, Any], overrides: Sequence[str] = ()) -> str:
    """Readable and unique: the configuration, then a hash of the resolved run config."""
    return f"{configuration(choices, cfg, overrides)}__{config_hash(cfg)[:8]}"


def lower_is_better(runs_metrics: Sequence[dict[str, Any]], name: str) -> bool:
    """Whether any run says that a lower ``name`` is better (metrics.json ``lower_is_better``)."""
    return any(name in m.get("lower_is_better", ()) for m in runs_metrics)


def config_hash(cfg: dict[str, Any]) -> str:
    """What tells two runs of the same components apart in their folder names: everything that decides their
    rankings, answers or scores (the scoring config holds every metric's k and switches)."""
    # A selector left at none is not in the hash: runs from before selectors keep their names.
    groups = [g for g in GROUPS if g != "selector" or (cfg.get("selector") or {}).get("name", "none") != "none"]
    keys = (*groups, "top_k", "rerank_candidates", "seed", "scoring", *(("outputs",) if (cfg.get("outputs") or {}).get("path") else ()))
    return sha256_json({k: without_keys(cfg.get(k)) if k in groups else cfg.get(k) for k in keys})  # serving details: ragsweep.config_keys


def write_json(path: Path, obj: Any, advice: str | None = None) -> None:
    """``advice``: what the one-line error says to do when the folder cannot be written (default: results_root's)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"), advice or RESULTS_ADVICE)


def parquet_writable(t: "pa.DataType") -> bool:
    """False for a struct with no fields anywhere inside (every query's metadata empty): Parquet has no such type."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return t.num_fields > 0 and all(parquet_writable(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return parquet_writable(t.value_type)
    return True


def records_table(records: list[dict[str, Any]]) -> "pa.Table":
    """Typed columns: lists stay lists, structs (gold spans, ranked chunks, metadata) stay structs. A
    column whose values Arrow cannot give one type (a metadata key that is a string in one query and a
    list in another), or that Parquet cannot store (metadata that is empty for every query), is stored as
    JSON text, and the log says which."""
    import pyarrow as pa

    names = list(dict.fromkeys(k for r in records for k in r))
    columns = {}
    for name in names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
            if not parquet_writable(columns[name].type):
                raise pa.ArrowNotImplementedError("an empty object, which Parquet cannot store as a struct")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
            log.info("records column %r stored as JSON text: %s", name, str(err).splitlines()[0])
            columns[name] = pa.array([None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values], pa.string())
    return pa.table(columns)


RESULTS_ADVICE = "free space there or point results_root (or RAGSWEEP_RESULTS) at a writable folder"


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(records_table(records), buf, compression="zstd")
    atomic_write_bytes(path, buf.getvalue(), RESULTS_ADVICE)


def write_run(run_dir: Path, config_yaml: str, records: list[dict[str, Any]], metrics: dict[str, Any], run_info: dict[str, Any]) -> None:
    """Every file is written into a staging folder beside ``run_dir`` first, so a run folder holds a whole
    run or none: a full disk or a read-only folder is one line and leaves no half-written run behind."""
    from ragsweep.store.cache import current_umask, unwritable

    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=run_dir.parent, prefix=f".{run_dir.name}.", suffix=".tmp"))
        os.chmod(staging, 0o777 & ~current_umask())
    except OSError as err:
        raise unwritable(run_dir.parent, err, RESULTS_ADVICE) from None
    try:
        atomic_write_bytes(staging / "config.yaml", config_yaml.encode("utf-8"), RESULTS_ADVICE)
        write_records(staging / "records.parquet", records)
        write_json(staging / "metrics.json", checked_metrics(metrics))
        write_json(staging / "run.json", checked_info(run_info))
        if not run_dir.exists():
            os.replace(staging, run_dir)
        else:  # a run written before: each file replaced (renames need no space), other files kept
            for path in sorted(staging.iterdir()):
                os.replace(path, run_dir / path.name)
    except OSError as err:
        raise unwritable(run_dir, err, RESULTS_ADVICE) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
