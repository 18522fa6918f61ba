"""Execute one resolved run config and write its results folder.

Kept apart from the ``ragsweep.run`` entry point: under ``python -m`` that module is ``__main__``, and the
joblib launcher would pickle its globals (the registries among them) by value into each worker.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ragsweep import runtime
from ragsweep.paths import SOURCE_ROOT
from ragsweep.cache import StageCache
from ragsweep.config_checks import validate_run_config
from ragsweep.hashing import sha256_json, sha256_text
from ragsweep.pipeline import Pipeline, PipelineResult, plain_config
from ragsweep.provenance import git_revision, machine, package_versions
from ragsweep.registry import BY_GROUP
from ragsweep.results import GROUPS, component_label, config_hash, headline_names, run_name, write_run
from ragsweep.scoring import aggregate, build_records

log = logging.getLogger("ragsweep.runner")


def data_identity(result: PipelineResult) -> str:
    """What the loaded data set is, by content: every query with its gold, and every document's text.
    The leaderboard groups runs by it and pairs queries only within it; two configs over the same data
    share it, one suite name over other data does not."""
    docs = sha256_json([[d.doc_id, sha256_text(d.text)] for d in result.documents])
    return sha256_json({"queries": [q.to_dict() for q in result.queries], "documents": docs})[:16]


def headline_summary(metrics: dict[str, Any], n_queries: int) -> str:
    """One line with the run's headline metrics: what a user wants to see when a run ends."""
    names = [n for n in headline_names(metrics) if n in metrics["metrics"]][:6]
    shown = [f"{n}={metrics['metrics'][n]['mean']:.4f}" + (f" (n={metrics['metrics'][n]['n']})" if metrics["metrics"][n]["n"] != n_queries else "") for n in names]
    return f"{n_queries} queries: " + (", ".join(shown) or "no metric")


def execute(cfg: DictConfig, choices: dict[str, str], overrides: Sequence[str] = ()) -> Path:
    """Run the pipeline for one resolved config and write its results folder."""
    t0 = time.perf_counter()
    plain = plain_config(cfg)
    notes = validate_run_config(plain)
    runtime.configure(plain["cache_dir"], bool(plain.get("progress", True)))
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():  # log lines print above the progress bars, never onto their line
        result = Pipeline(cfg, StageCache(plain["cache_dir"]), progress=plain.get("progress", True)).run()
    t_score = time.perf_counter()
    invalid_policy = plain["judge"].get("invalid_policy", "exclude")
    records = build_records(
        result, plain["eval_k"], plain["span_k"], plain["section_k"], plain["keyword_k"], invalid_policy,
        plain["section_mapping"], plain["keyword_reference_compat"], plain["citation_reference_swapped"],
    )
    metrics = aggregate(records, result, plain["seed"], plain["pricing"].get(str(plain["generator"].get("model")), {}), plain["citation_reference_swapped"])
    metrics["components"] = {g: component_label(plain[g], getattr(BY_GROUP[g].get(plain[g]["name"]), "label_params", ())) for g in GROUPS}
    metrics["choices"] = {g: choices.get(g) for g in GROUPS}
    metrics["sweep"] = plain["sweep_name"]
    metrics["headline"] = result.headline_metric
    metrics["data_identity"] = data_identity(result)
    if result.lower_is_better:  # what the gate and report read to tell a rise from a drop
        metrics["lower_is_better"] = result.lower_is_better
    if result.headline_extra:  # judged columns its rubrics mark as headline: the report shows them, the gate tracks them
        metrics["headline_extra"] = result.headline_extra
    score_s = time.perf_counter() - t_score
    name = run_name(choices, plain, overrides)
    run_dir = Path(plain["results_dir"]) / plain["sweep_name"] / name
    stages = {k: {"status": v.status, "wall_s": round(v.wall_s, 4), "key": v.key} for k, v in result.stages.items()}
    stages["score"] = {"status": "computed", "wall_s": round(score_s, 4), "key": None}
    run_info = {
        "run": name,
        "sweep": plain["sweep_name"],
        "config_hash": config_hash(plain),
        "seed": plain["seed"],
        "git": git_revision(SOURCE_ROOT),
        "packages": package_versions(),
        "machine": machine(),
        "data_hashes": result.data_hashes,
        "data_files": result.data_files,
        "failed_llm_results": result.failed_llm_results,
        "code": result.code,
        "task": result.task_description,
        "retrieval": result.retrieval_report,
        "data_identity": metrics["data_identity"],
        "notes": notes,
        "unscored_queries": {
            name: len(records) - stat["n"] for name, stat in metrics["metrics"].items() if stat["n"] < len(records)
        },
        "stages": stages,
        "cache_hits": sum(1 for v in result.stages.values() if v.status == "hit"),
        "counters": runtime.counters(),
        "wall_s": round(time.perf_counter() - t0, 4),
    }
    write_run(run_dir, OmegaConf.to_yaml(cfg, resolve=True), records, metrics, run_info)
    summary = " ".join(f"{k}={v['status']}" for k, v in stages.items() if k != "score")
    log.info("%s: %s (%.1fs) -> %s", name, summary, run_info["wall_s"], run_dir)
    log.info("%s", headline_summary(metrics, len(records)))
    return run_dir
