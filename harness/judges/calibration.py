"""A judge's measured calibration, found by its identity among the reports ``ragsweep judge-eval`` wrote.

Every judged number is shown with it: the set the judge was measured on, n, validity and its agreement with the
human labels (Cohen's kappa, binary; Krippendorff's alpha where the labels are graded) with the interval. A judge
whose identity (ragsweep.judges.llm.LLMJudge.identity: rubric definition and prompt, models, decoding, samples)
has no report is uncalibrated and is marked so, never shown as if it were measured.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

UNCALIBRATED = "uncalibrated"


def calibration_reports(runs_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Judge id -> the summaries of its readable judge-eval reports in results/judge_eval/, the folder beside
    ``runs_dir`` where ``ragsweep judge-eval`` writes them (the run and the leaderboard both look there). A report
    that cannot be read or lacks a field is named in a warning and skipped."""
    reports: dict[str, list[dict[str, Any]]] = {}
    folder = runs_dir.parent / "judge_eval"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            judge_id, summary = str(report["judge"]["judge_id"]), calibration_summary(report, path.name)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            log.warning("skipping unreadable judge calibration %s: %s", path, err)
            continue
        reports.setdefault(judge_id, []).append(summary)
    return reports


def calibration_summary(report: dict[str, Any], file: str) -> dict[str, Any]:
    """What is shown beside a judged number: set, n, validity and the agreement statistic with its interval."""
    name = "krippendorff_alpha" if report.get("graded") else "cohen_kappa"
    stat = (report.get("graded") or report)[name]
    return {
        "set": Path(str(report.get("set", ""))).name, "items": int(report.get("items") or 0),
        "validity": _number(report.get("validity")), "statistic": name, "value": _number(stat.get("value")),
        "ci_low": _number(stat.get("ci_low")), "ci_high": _number(stat.get("ci_high")), "file": file,
    }


def _number(value: Any) -> float | None:
    """A figure as the report holds it: a number, or null where it is undefined; anything else is a damaged report."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected a number or null, not {value!r}")


def find_calibration(judge_id: str, reports: dict[str, list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The summary of the report for ``judge_id`` on the most items (a tie: the last file by name), or None."""
    mine = reports.get(judge_id)
    return max(mine, key=lambda r: (r["items"], r["file"])) if mine else None


def statistic_text(summary: dict[str, Any] | None) -> str:
    """``kappa 0.31`` (the statistic and its value), or ``uncalibrated``: what a judged column's header carries."""
    if not summary or summary.get("value") is None:
        return UNCALIBRATED
    symbol = {"cohen_kappa": "kappa", "krippendorff_alpha": "alpha"}[summary["statistic"]]
    return f"{symbol} {summary['value']:.2f}"


def calibration_text(summary: dict[str, Any] | None) -> str:
    """One short phrase: ``kappa 0.31 [0.12, 0.48] on claims (n=45, validity 1.00)`` or ``uncalibrated``."""
    if not summary or summary.get("value") is None:
        return UNCALIBRATED
    validity = summary.get("validity")
    return (f"{statistic_text(summary)} [{summary['ci_low']:.2f}, {summary['ci_high']:.2f}] on {summary['set']} "
            f"(n={summary['items']}" + (f", validity {validity:.2f})" if validity is not None else ")"))
