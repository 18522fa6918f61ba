"""Checks of a resolved run config, made before any work: a bad value stops the run with one line
naming its key, instead of a run that reports ``doc_recall@10`` from 3 retrieved chunks."""

from __future__ import annotations

import re
from typing import Any

from ragsweep.engine.brackets import check_brackets

from ragsweep.errors import ConfigError
from ragsweep.metrics.sections import SECTION_MAPPINGS

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]*")


def _int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}")
    return value


def _ints(cfg: dict[str, Any], key: str) -> list[int]:
    value = cfg[key]
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ConfigError(f"{key} must name at least one k")
    return [_int(f"{key}[{i}]", v, 1) for i, v in enumerate(values)]


def _number(key: str, value: Any, low: float, high: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{key} must be in [{low}, {high if high is not None else 'inf'}], got {value}")


def _bm25_params(node: Any, key: str) -> None:
    """Every BM25 config inside the retriever (hybrid ones included): k1 >= 0, 0 <= b <= 1."""
    if isinstance(node, dict):
        if node.get("name") == "bm25":
            if "k1" in node:
                _number(f"{key}.k1", node["k1"], 0.0)
            if "b" in node:
                _number(f"{key}.b", node["b"], 0.0, 1.0)
        for k, v in node.items():
            _bm25_params(v, f"{key}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _bm25_params(v, f"{key}[{i}]")


def check_name(key: str, value: Any) -> str:
    """A value that becomes one folder name: no separators, no ``..``, no absolute path."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value) or value in (".", ".."):
        raise ConfigError(f"{key} must be a plain name (letters, digits, . _ = + -; no '/' or '..'), got {value!r}")
    return value


def validate_run_config(cfg: dict[str, Any]) -> list[str]:
    """Raise ConfigError for the first bad value; return notes the run must carry (e.g. no context)."""
    notes: list[str] = []
    check_name("sweep_name", cfg.get("sweep_name"))
    if isinstance(cfg.get("seed"), bool) or not isinstance(cfg.get("seed"), int):
        raise ConfigError(f"seed must be an integer, got {cfg.get('seed')!r}")
    top_k = _int("top_k", cfg.get("top_k"), 1)
    needs = {"eval_k": max(_ints(cfg, "eval_k")), "span_k": max(_ints(cfg, "span_k")), "section_k": max(_ints(cfg, "section_k")),
             "keyword_k": max(_ints(cfg, "keyword_k"))}
    for key, k in needs.items():
        if k > top_k:
            raise ConfigError(f"top_k={top_k} is smaller than {key}={k}: metrics at k={k} would be computed on {top_k} chunks; raise top_k or lower {key}")
    _int("rerank_candidates", cfg.get("rerank_candidates"), 1)
    if cfg.get("bracket_max_tokens") is not None:
        _int("bracket_max_tokens", cfg["bracket_max_tokens"], 1)
    limit = (cfg.get("task") or {}).get("limit")
    if limit is not None:
        _int("task.limit", limit, 1)
    generator = cfg.get("generator") or {}
    if generator.get("name") not in (None, "none") and "context_k" in generator:
        if _int("generator.context_k", generator["context_k"], 0) == 0:
            notes.append("generator.context_k=0: answers were generated with no retrieved context")
    _bm25_params(cfg.get("retriever"), "retriever")
    if check_brackets(cfg.get("brackets") or []) and generator.get("name") in (None, "none"):
        raise ConfigError(f"brackets={cfg['brackets']} answer with the run's generator: this run has none (generator=none)")
    if cfg.get("section_mapping", "overlap") not in SECTION_MAPPINGS:
        raise ConfigError(f"section_mapping must be {' or '.join(SECTION_MAPPINGS)}, got {cfg.get('section_mapping')!r}")
    for flag in ("keyword_reference_compat", "citation_reference_swapped"):
        if not isinstance(cfg.get(flag, False), bool):
            raise ConfigError(f"{flag} must be true or false, got {cfg.get(flag)!r}")
    return notes
