"""Execute one resolved run config and write its results folder.

Kept apart from the ``ragsweep.commands.run`` entry point: under ``python -m`` that module is ``__main__``, and the
joblib launcher would pickle its globals (the registries among them) by value into each worker.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ragsweep import runtime
from ragsweep.errors import ConfigError, did_you_mean
from ragsweep.paths import SOURCE_ROOT
from ragsweep.store.cache import StageCache
from ragsweep.engine.config_checks import validate_run_config
from ragsweep.hashing import sha256_json, sha256_text
from ragsweep.judges.calibration import calibration_reports, find_calibration
from ragsweep.engine.pipeline import Pipeline, plain_config
from ragsweep.types import Document, PipelineResult, Query
from ragsweep.store.provenance import git_revision, machine, package_versions
from ragsweep.cluster.scheduler import scheduler_identity
from ragsweep.external.replay import label as replayed_label
from ragsweep.registry import BY_GROUP, TRACKERS
from ragsweep.store.results import GROUPS, component_label, config_hash, configuration, run_name, write_run
from ragsweep.engine.code_identity import code_identity
from ragsweep.scoring.records import aggregate, build_metrics, build_records, headline_metrics, headline_names, lower_is_better

log = logging.getLogger("ragsweep.engine.runner")


REPLAYED_GROUPS = ("chunker", "retriever", "generator")  # what a run from outputs.path replays instead of computing


def data_identity(result: PipelineResult) -> str:
    """What the loaded data set is, by content: every query with its gold, and every document's text.
    The leaderboard groups runs by it and pairs queries only within it; two configs over the same data
    share it, one suite name over other data does not."""
    return suite_identity(result.documents, result.queries)


def suite_identity(documents: Sequence[Document], queries: Sequence[Query]) -> str:
    """``data_identity`` of a suite's documents and all its questions (a search names the suite it searched by it)."""
    docs = sha256_json([[d.doc_id, sha256_text(d.text)] for d in documents])
    return sha256_json({"queries": [q.to_dict() for q in queries], "documents": docs})[:16]


def headline_summary(metrics: dict[str, Any], n_queries: int) -> str:
    """One line with the run's headline metrics: what a user wants to see when a run ends."""
    names = [n for n in headline_names(metrics) if n in metrics["metrics"]][:6]
    shown = [f"{n}={metrics['metrics'][n]['mean']:.4f}" + (f" (n={metrics['metrics'][n]['n']})" if metrics["metrics"][n]["n"] != n_queries else "") for n in names]
    return f"{n_queries} queries: " + (", ".join(shown) or "no metric")


def assessor_judges(result: PipelineResult, metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The assessor's judged columns (assessor=llm) with their judge. The relevance judge carries its agreement with
    the gold measured in this very run (``run_calibration``: kappa on the pool chunks the gold decides); the nugget
    judge has no human labels here and is shown uncalibrated."""
    agreement = metrics["summary"].get("assessor_gold_agreement") or {}
    measured = None
    if agreement.get("cohen_kappa") is not None:
        validity = agreement["n"] / (agreement["n"] + agreement["unreadable"])
        measured = {"set": "this run's gold", "items": agreement["n"], "validity": validity, "statistic": "cohen_kappa",
                    "value": agreement["cohen_kappa"], "ci_low": agreement["ci_low"], "ci_high": agreement["ci_high"], "file": "metrics.json"}
    out = {}
    for column in metrics["metrics"]:
        for prefix, judge in result.assessor_judges.items():
            if column.startswith(prefix):
                is_relevance = prefix.startswith("judged_")
                out[column] = {**judge, "language": result.language, "context_chunks": None,
                               **({"run_calibration": measured} if is_relevance and measured else {})}
    return out


def self_judging_model(plain: dict[str, Any]) -> str | None:
    """The model that both wrote the answers and judges them, if any: judges prefer their own outputs
    (self-preference), so such a judged number is flagged wherever it is shown."""
    generated = (plain.get("generator") or {}).get("model")
    judging = {str(m.get("model")) for m in (plain.get("judge") or {}).get("models") or () if isinstance(m, dict)}
    return str(generated) if generated and str(generated) in judging else None


def judge_columns_declared(judge: dict[str, Any]) -> list[str] | None:
    """The columns a judge config writes, known before it runs: its rubrics' record columns (llm, openai, vllm) or
    its ragas metrics; [] without a judge; None for a judge this cannot tell (one named by import path)."""
    name = judge.get("name") or judge.get("_target_")
    if name == "none":
        return []
    if "rubric_defs" in judge:
        return [c for r in judge.get("rubrics") or () for c in ((judge["rubric_defs"] or {}).get(r) or {}).get("columns", {})]
    if name == "ragas":
        return [f"ragas_{m}" for m in judge.get("metrics") or ()]
    return None


def check_headline_first(plain: dict[str, Any], families: Sequence[Any]) -> None:
    """``task.headline_metric`` naming a metric no family or judge of this run can write stops the run before any
    work (not after it); where a family does not declare its columns, the check after scoring stands alone."""
    named = plain["task"].get("headline_metric")
    declared = [f.declared_columns() for f in families] + [judge_columns_declared(plain["judge"])]
    if not named or any(d is None for d in declared):
        return
    names = sorted({n for d in declared for n in d or ()})
    if named not in names:
        raise ConfigError(f"task.headline_metric={named!r} is not a metric this run can compute: {did_you_mean(str(named), names)}"
                          f"(its metric families and judge write: {', '.join(names)})")


def execute(cfg: DictConfig, choices: dict[str, str], overrides: Sequence[str] = (), sweep_dir: Path | None = None,
            label: str = "", parallel_jobs: int = 1) -> Path:
    """Run the pipeline for one resolved config, write its results folder, and report it to the configured tracker
    (under the sweep's parent run when ``sweep_dir`` holds one). A sweep's job passes ``label`` ("job 3"), which
    names its progress lines, and how many jobs run beside it (``parallel_jobs``); both go into the run's context."""
    t0 = time.perf_counter()
    plain = plain_config(cfg)
    notes = validate_run_config(plain)
    families = build_metrics(plain["scoring"])  # a bad metric config stops the run before any work
    check_headline_first(plain, families)
    tracker = TRACKERS.build(plain["tracking"])
    context = runtime.RunContext(Path(plain["cache_dir"]), bool(plain.get("progress", True)), label,
                                 float(plain.get("progress_every_s", 30)), parallel_jobs)
    from tqdm.contrib.logging import logging_redirect_tqdm

    with context.active(), logging_redirect_tqdm():  # log lines print above the progress bars, never onto their line
        result = Pipeline(cfg, StageCache(plain["cache_dir"]), progress=context.bars).run()
    t_score = time.perf_counter()
    records = build_records(result, families, plain["judge"].get("invalid_policy", "exclude"), (plain.get("outputs") or {}).get("missing_answers", "zero"))
    metrics = aggregate(records, result, families, plain["seed"], plain["pricing"].get(str(plain["generator"].get("model")), {}))
    metrics["components"] = {g: component_label(plain[g], getattr(BY_GROUP[g].get(plain[g]["name"]), "label_params", ())) for g in GROUPS}
    if (plain.get("outputs") or {}).get("path"):  # another system's outputs stand in for these three
        choices = {**choices, **{g: "outputs" for g in REPLAYED_GROUPS}}
        system = replayed_label(plain["outputs"])
        metrics["components"].update({g: f"outputs {system}" for g in REPLAYED_GROUPS})
        if not result.generations:
            metrics["components"]["generator"] = "none"
    metrics["choices"] = {g: choices.get(g) for g in GROUPS}
    metrics["sweep"] = plain["sweep_name"]
    metrics["configuration"] = configuration(choices, plain, overrides)
    if (named := plain["task"].get("headline_metric")) and named not in metrics["metrics"]:
        raise ConfigError(f"task.headline_metric={named!r} is not a metric of this run: "
                          f"{did_you_mean(str(named), sorted(metrics['metrics']))}(its metrics: {', '.join(sorted(metrics['metrics']))})")
    metrics["headline"] = result.headline_metric
    metrics["data_identity"] = data_identity(result)
    # What the report shows and the gate tracks by default, and which columns are better lower: from the metric
    # families and the judge's rubrics, so a metric from outside the package is shown and gated like a built-in.
    metrics["headline_metrics"] = headline_metrics(families, result)
    if lower := [name for name in lower_is_better(families, result) if name in metrics["metrics"]]:  # only columns this run has
        metrics["lower_is_better"] = lower
    if (own := self_judging_model(plain)) and result.column_judges:
        log.warning("the judge's model %s also generated the answers it judges: judges prefer their own outputs (self-preference); "
                    "judge with another model, or read these judged columns with that in mind", own)
        metrics["self_judged"] = own
    if judged := {**{c: j for c, j in result.column_judges.items() if c in metrics["metrics"]}, **assessor_judges(result, metrics)}:
        # Each judged column names its judge and the calibration judge-eval measured for it when this run was
        # scored (the leaderboard looks it up again when it renders: a calibration run later is shown then).
        reports = calibration_reports(Path(plain["results_dir"]))
        found = {c: find_calibration(j["judge_id"], reports) or j.get("run_calibration") for c, j in judged.items()}
        metrics["judges"] = {c: {**j, "calibrated": found[c] is not None, "calibration": found[c]} for c, j in judged.items()}
    score_s = time.perf_counter() - t_score
    name = run_name(choices, plain, overrides)
    run_dir = Path(plain["results_dir"]) / plain["sweep_name"] / name
    stages = {k: {"status": v.status, "wall_s": round(v.wall_s, 4), "key": v.key} for k, v in result.stages.items()}
    stages["score"] = {"status": "computed", "wall_s": round(score_s, 4), "key": None}
    run_info = {
        "run": name,
        "configuration": metrics["configuration"],
        "sweep": plain["sweep_name"],
        "config_hash": config_hash(plain),
        "seed": plain["seed"],
        "git": git_revision(SOURCE_ROOT),
        "packages": package_versions(),
        "machine": machine(),
        **({"scheduler": job} if (job := scheduler_identity()) else {}),
        "data_hashes": result.data_hashes,
        "data_files": result.data_files,
        "failed_llm_results": result.failed_llm_results,
        "code": {**result.code, **{type(f).__module__: code_identity(type(f).__module__) for f in families}},
        "task": result.task_description,
        "retrieval": result.retrieval_report,
        "data_identity": metrics["data_identity"],
        "notes": notes,
        "unscored_queries": {
            name: len(records) - stat["n"] for name, stat in metrics["metrics"].items() if stat["n"] < len(records)
        },
        "stages": stages,
        **({"assessment": result.assessment_stats} if result.assessment_stats else {}),
        "cache_hits": sum(1 for v in result.stages.values() if v.status == "hit"),
        "counters": dict(context.counters),
        "wall_s": round(time.perf_counter() - t0, 4),
    }
    write_run(run_dir, OmegaConf.to_yaml(cfg, resolve=True), records, metrics, run_info)
    summary = " ".join(f"{k}={v['status']}" for k, v in stages.items() if k != "score")
    log.info("%s: %s (%.1fs) -> %s", name, summary, run_info["wall_s"], run_dir)
    log.info("%s", headline_summary(metrics, len(records)))
    tracker.log_run(run_dir, sweep_dir)
    return run_dir
