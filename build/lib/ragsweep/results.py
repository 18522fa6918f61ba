"""The files a run writes: results/runs/<sweep>/<run>/{config.yaml, records.parquet, metrics.json, run.json}.

records.parquet and metrics.json depend only on config, data and seed (byte-identical on a re-run);
run.json holds what differs between executions (wall times, cache hits, machine).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ragsweep.cache import atomic_write_bytes
from ragsweep.hashing import sha256_json

GROUPS = ("task", "chunker", "retriever", "reranker", "generator", "judge")


def _label_value(value: Any) -> Any:
    """A list of member components (a hybrid's retrievers) reads ``bm25+dense(model)``."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        return "+".join(v["name"] + (f"({v['model']})" if v.get("model") else "") for v in value)
    return value


def component_label(component: dict[str, Any], label_params: tuple[str, ...]) -> str:
    """``name key=value ...`` over the parameters the component declares as identifying it."""
    shown = [f"{k}={_label_value(component[k])}" for k in label_params if component.get(k) not in (None, "")]
    return " ".join([component["name"], *shown])


def run_name(choices: dict[str, str], cfg: dict[str, Any]) -> str:
    """Readable and unique: the config file chosen per group, then a hash of the resolved run config."""
    readable = re.sub(r"[^A-Za-z0-9._=-]+", "_", "__".join(choices.get(g, "?") for g in GROUPS))[:150]
    return f"{readable}__{config_hash(cfg)[:8]}"


def config_hash(cfg: dict[str, Any]) -> str:
    keys = (*GROUPS, "top_k", "eval_k", "span_k", "section_k", "keyword_k", "rerank_candidates", "seed", "section_mapping", "keyword_reference_compat", "citation_reference_swapped")
    return sha256_json({k: cfg.get(k) for k in keys})


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    buf = io.BytesIO()
    pd.DataFrame.from_records(records).to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    atomic_write_bytes(path, buf.getvalue())


def write_run(run_dir: Path, config_yaml: str, records: list[dict[str, Any]], metrics: dict[str, Any], run_info: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / "config.yaml", config_yaml.encode("utf-8"))
    write_records(run_dir / "records.parquet", records)
    write_json(run_dir / "metrics.json", metrics)
    write_json(run_dir / "run.json", run_info)
