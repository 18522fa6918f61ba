"""``ragsweep gate``: the regression gate. Compares the latest runs of a sweep (default ``ci``)
with a committed baseline (results/baselines/<sweep>.json) and exits 1 when a metric dropped by more
than its tolerance, printing what dropped, by how much, and whether the drop is significant (paired
sign-flip test over the same queries). A run or metric the baseline has and the sweep lacks fails too, and so
does a latest run the baseline lacks (``--allow-new`` lists it instead). "Latest" is the runs the sweep's last
invocation wrote or found up to date, never older folders of the same configurations. A tracked judged column
fails closed: its judge must be calibrated with an agreement of at least ``--min-judge-agreement``, or the column
PPI-corrected by human labels on the run's own answers.
``--write`` (``make baseline``) rewrites the baseline from the current runs, on purpose.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ragsweep.errors import DataError
from ragsweep.store.run_folder import RunFolder, latest_of_sweep
from ragsweep.paths import SOURCE_ROOT, results_root
from ragsweep.store.provenance import git_revision
from ragsweep.scoring.records import headline_names
from ragsweep.store.results import write_json
from ragsweep.metrics.significance import paired_permutation_p
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.analysis.gate")
DEFAULT_TOLERANCE = 0.01
MIN_JUDGE_AGREEMENT = 0.4  # kappa or alpha: "moderate" agreement (Landis and Koch); below it a judged mean is not gated on
ALPHA = 0.05


def latest_runs(runs_dir: Path, sweep: str) -> tuple[dict[str, RunFolder], int]:
    """(run key -> run folder, read once; failed jobs) of the sweep's latest invocation. The key is the run's stored
    identity (its component choices and named overrides, without the config hash), stable across unrelated config
    changes and whatever its folder is named. The runs are those the invocation recorded (store/run_folder.py:
    <runs>/.latest/<sweep>.json), so runs an older invocation wrote never stand in for the latest one's. Runs written
    without such a record (``ragsweep run``, older versions): the newest folder per run key, said in the log."""
    recorded = latest_of_sweep(runs_dir / sweep)
    if recorded is not None:
        folders, failed = recorded
        return {(run := RunFolder.read(f)).configuration: run for f in folders}, failed
    out: dict[str, RunFolder] = {}
    for metrics_path in sorted((runs_dir / sweep).glob("*/metrics.json"), key=lambda p: p.stat().st_mtime):
        run = RunFolder.read(metrics_path.parent)
        out[run.configuration] = run
    if out:
        log.info("no record of the latest `ragsweep sweep %s` under %s: judging the newest run of each configuration", sweep, runs_dir / sweep)
    return out, 0


def tracked_metrics(metrics: dict[str, Any]) -> list[str]:
    return [n for n in headline_names(metrics) if n in metrics["metrics"]]


def snapshot(folder: RunFolder) -> dict[str, Any]:
    """What the baseline keeps of one run: tracked metric means, their per-query values, the data identity."""
    metrics, records = folder.metrics, folder.records().set_index("query_id")
    names = tracked_metrics(metrics)
    out = {
        "data_identity": metrics.get("data_identity"),
        "metrics": {n: metrics["metrics"][n]["mean"] for n in names},
        "per_query": {n: {q: float(v) for q, v in records[n].dropna().items()} for n in names},
    }
    lower = [n for n in metrics.get("lower_is_better", ()) if n in names]
    return {**out, "lower_is_better": lower} if lower else out


def judged_column_checks(key: str, folder: RunFolder, runs_dir: Path, min_agreement: float) -> list[Check]:
    """The gate fails closed on a tracked judged column: its judge must be calibrated (ragsweep judge-eval) with an
    agreement with human labels of at least ``min_agreement``, unless the column is corrected by human labels on this
    run's answers (PPI++, ragsweep label), whose interval is valid whatever the judge."""
    from ragsweep.analysis.leaderboard import JUDGED_PREFIXES
    from ragsweep.analysis.ppi_columns import HumanLabels, run_estimate
    from ragsweep.judges.calibration import calibration_reports, find_calibration

    judges = folder.metrics.get("judges") or {}
    tracked = [n for n in tracked_metrics(folder.metrics) if n in judges or n.startswith(JUDGED_PREFIXES)]
    if not tracked:
        return []
    reports, labels = calibration_reports(runs_dir), HumanLabels(runs_dir.parent / "labels")
    checks = []
    for name in tracked:
        judge = judges.get(name)
        if judge is None:
            checks.append(Check(key, name, None, None, 0.0, None, "JUDGE NOT RECORDED: the run names no judge for this judged column"))
            continue
        corrected = run_estimate({"path": folder.path, "metrics": folder.metrics, "judges": judges}, name, labels)
        if corrected and corrected.get("estimate"):
            continue
        calibration = find_calibration(str(judge.get("judge_id")), reports) or judge.get("calibration")
        value = (calibration or {}).get("value")
        if value is None:
            checks.append(Check(key, name, None, None, 0.0, None, "JUDGE UNCALIBRATED: measure it (ragsweep judge-eval) or label answers "
                                                                    "(ragsweep label) so the column is PPI-corrected"))
        elif value < min_agreement:
            checks.append(Check(key, name, None, None, 0.0, None, f"JUDGE BELOW AGREEMENT: {calibration['statistic']} {value:.2f} < "
                                                                    f"{min_agreement} on {calibration.get('set')}; label answers (ragsweep label) "
                                                                    "to gate on a PPI-corrected column"))
    return checks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Check:
    run: str
    metric: str
    baseline: float | None
    current: float | None
    tolerance: float
    p_value: float | None
    problem: str | None = None  # why this check cannot pass whatever the numbers say
    lower_is_better: bool = False  # a rise is the drop (metrics.json lower_is_better, from the judge's rubrics)
    note: str | None = None  # a passing check's verdict when no numbers are compared (a run allowed without baseline)

    @property
    def drop(self) -> float | None:
        if not (_is_number(self.baseline) and _is_number(self.current)):
            return None
        sign = -1.0 if self.lower_is_better else 1.0
        return sign * (self.baseline - self.current)  # type: ignore[operator]

    @property
    def failed(self) -> bool:
        if self.note is not None and self.problem is None:
            return False
        return self.problem is not None or self.drop is None or self.drop > self.tolerance + 1e-12

    @property
    def verdict(self) -> str:
        if self.problem is not None:
            return self.problem
        if self.note is not None:
            return self.note
        if self.drop is None:
            return "MISSING" if self.current is None else "NaN mean"
        if self.failed:
            return "DROP, significant" if (self.p_value or 1.0) < ALPHA else "DROP, not significant"
        return "ok"


def _tolerance(baseline: dict[str, Any], metric: str) -> tuple[float, str | None]:
    tol = baseline.get("tolerances", {}).get(metric, baseline.get("tolerance", DEFAULT_TOLERANCE))
    if not _is_number(tol) or tol < 0:
        return math.nan, f"BAD BASELINE: tolerance {tol!r} is not a number >= 0"
    return float(tol), None


def baseline_run_problem(base: Any) -> str | None:
    """Why a baseline run cannot be checked against (its shape), else None. A run without a data identity
    cannot tell changed gold from a regression, so it fails rather than skipping that check."""
    if not isinstance(base, dict) or not base.get("metrics"):
        return "BAD BASELINE: the run has no metrics"
    if not isinstance(base["metrics"], dict):
        return f"BAD BASELINE: metrics is a {type(base['metrics']).__name__}, not a mapping of metric to mean"
    if not isinstance(base.get("data_identity"), str) or not base["data_identity"]:
        return "BAD BASELINE: the run has no data identity, so changed data cannot be told apart (rewrite it with `ragsweep gate --write`)"
    per_query = base.get("per_query", {})
    if not isinstance(per_query, dict):
        return f"BAD BASELINE: per_query is a {type(per_query).__name__}, not a mapping of metric to per-query values"
    for metric, values in per_query.items():
        if not isinstance(values, dict) or not all(_is_number(v) for v in values.values()):
            return f"BAD BASELINE: per_query of {metric} is not a mapping of query id to number"
    return None


def unmatched(baseline: dict[str, Any], current: dict[str, Any], allow_new: bool) -> list[Check]:
    """A latest run the baseline does not hold (a changed setting renames a run) fails: it would otherwise be
    ignored while the baseline's runs were judged on older folders. ``allow_new`` lists it without failing."""
    known = baseline.get("runs") if isinstance(baseline.get("runs"), dict) else {}
    verdict = "NOT IN BASELINE (allowed)" if allow_new else "NOT IN BASELINE: rewrite the baseline on purpose (--write) or pass --allow-new"
    return [Check(key, "-", None, None, 0.0, None, None if allow_new else verdict, note=verdict if allow_new else None)
            for key in sorted(set(current) - set(known))]


def compare(baseline: dict[str, Any], current: dict[str, dict[str, Any]]) -> list[Check]:
    """One check per (baseline run, metric); a baseline that cannot be checked against is a failed check too."""
    runs = baseline.get("runs")
    if not isinstance(runs, dict) or not runs:
        return [Check("(baseline)", "-", None, None, math.nan, None, "BAD BASELINE: it holds no runs")]
    if not isinstance(baseline.get("tolerances", {}), dict):
        return [Check("(baseline)", "-", None, None, math.nan, None, "BAD BASELINE: tolerances is not a mapping")]
    checks = []
    for key, base in sorted(runs.items()):
        shape = baseline_run_problem(base)
        if shape is not None:
            checks.append(Check(key, "-", None, None, math.nan, None, shape))
            continue
        now = current.get(key)
        for metric, base_mean in base["metrics"].items():
            tol, problem = _tolerance(baseline, metric)
            cur_mean = None if now is None else now["metrics"].get(metric)
            p = None
            base_q = base.get("per_query", {}).get(metric, {})
            if problem is None and not _is_number(base_mean):
                problem = f"BAD BASELINE: mean {base_mean!r} is not a number"
            if now is not None and problem is None:
                if base["data_identity"] != now.get("data_identity"):
                    problem = f"DATA CHANGED: data identity {now.get('data_identity')} vs baseline {base['data_identity']}"
                elif cur_mean is not None and not _is_number(cur_mean):
                    problem = "NaN mean"
                elif cur_mean is not None:
                    cur_q = now["per_query"].get(metric, {})
                    if set(cur_q) != set(base_q):
                        lost, new = len(set(base_q) - set(cur_q)), len(set(cur_q) - set(base_q))
                        problem = f"QUERY SET CHANGED: {len(cur_q)} queries scored vs {len(base_q)} in the baseline ({lost} missing, {new} new)"
                    else:
                        shared = sorted(base_q)
                        p = paired_permutation_p([cur_q[q] for q in shared], [base_q[q] for q in shared]) if shared else None
            lower = metric in base.get("lower_is_better", ()) or (now is not None and metric in now.get("lower_is_better", ()))
            checks.append(Check(key, metric, base_mean if _is_number(base_mean) else None, cur_mean, tol, p, problem, lower))
    return checks


def table(checks: list[Check]) -> str:
    lines = ["| run | metric | baseline | current | drop | tolerance | p (paired) | verdict |", "|---|---|---|---|---|---|---|---|"]
    for c in checks:
        fmt = lambda x: "missing" if x is None else f"{x:.4f}"  # noqa: E731
        lines.append(f"| {c.run} | {c.metric} | {fmt(c.baseline)} | {fmt(c.current)} | {fmt(c.drop)} | {c.tolerance:g} | "
                     f"{'' if c.p_value is None or math.isnan(c.p_value) else f'{c.p_value:.3g}'} | {c.verdict} |")
    return "\n".join(lines)


def read_baseline(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        log.error("unreadable baseline %s: %s", path, err)
        return None
    if not isinstance(data, dict):
        log.error("unreadable baseline %s: expected a JSON object", path)
        return None
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep gate", description=plain_doc(__doc__))
    parser.add_argument("--runs", type=Path, default=results_root() / "runs", help="the runs folder (default: <results>/runs)")
    parser.add_argument("--sweep", default="ci", help="the sweep whose latest runs are compared with its baseline (default: ci)")
    parser.add_argument("--baseline", type=Path, default=None, help="default results/baselines/<sweep>.json")
    parser.add_argument("--write", action="store_true", help="rewrite the baseline from the current runs")
    parser.add_argument("--all", action="store_true", help="print every check, not only failures")
    parser.add_argument("--min-judge-agreement", type=float, default=None,
                        help="the least agreement with human labels (kappa or alpha) a tracked judged column's judge needs, unless "
                             f"the column is PPI-corrected (default: the baseline's min_judge_agreement, else {MIN_JUDGE_AGREEMENT})")
    parser.add_argument("--allow-new", action="store_true",
                        help="a latest run the baseline does not hold is listed, not failed (default: it fails the gate)")
    args = parser.parse_args(argv)
    setup_logging()
    baseline_path = args.baseline or results_root() / "baselines" / f"{args.sweep}.json"
    try:
        runs, failed_jobs = latest_runs(args.runs, args.sweep)
    except DataError as err:
        log.error("%s", err)
        return 2
    if not runs and not failed_jobs:
        log.error("no runs of sweep %r under %s: run `ragsweep sweep %s` first", args.sweep, args.runs, args.sweep)
        return 2
    current = {}
    for key, run in runs.items():
        try:
            current[key] = snapshot(run)
        except (OSError, ValueError, KeyError) as err:  # unreadable: the run counts as missing
            log.warning("skipping unreadable run %s: %s", run.path, err)
    if args.write:
        old = json.loads(baseline_path.read_text("utf-8")) if baseline_path.exists() else {}
        write_json(baseline_path, {
            "sweep": args.sweep, "git": git_revision(SOURCE_ROOT)["sha"],
            "tolerance": old.get("tolerance", DEFAULT_TOLERANCE), "tolerances": old.get("tolerances", {}), "runs": current,
        })
        log.info("wrote %s (%d runs)", baseline_path, len(current))
        return 0
    if not baseline_path.exists():
        log.error("no baseline %s: write one from the current runs with `ragsweep gate --sweep %s --write` (in a checkout: make baseline)",
                  baseline_path, args.sweep)
        return 2
    baseline = read_baseline(baseline_path)
    if baseline is None:
        return 1
    checks = compare(baseline, current) + unmatched(baseline, current, args.allow_new)
    threshold = args.min_judge_agreement if args.min_judge_agreement is not None else baseline.get("min_judge_agreement", MIN_JUDGE_AGREEMENT)
    for key, run in sorted(runs.items()):
        if key in current:
            checks += judged_column_checks(key, run, args.runs, float(threshold))
    if failed_jobs:
        checks.append(Check("(sweep)", "-", None, None, 0.0, None, f"{failed_jobs} job(s) of the latest sweep failed"))
    failed = [c for c in checks if c.failed]
    shown = checks if args.all else [c for c in checks if c.failed or c.note]
    if shown:
        log.info("%s", table(shown))
    log.info("gate %s: %d checks over %d runs, %d failed (tolerance: absolute drop in the mean)",
             "FAILED" if failed else "passed", len(checks), len({c.run for c in checks}), len(failed))
    return 1 if failed else 0
