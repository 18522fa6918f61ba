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


def calibration_reports(folder: Path) -> list[dict[str, Any]]:
    """Every readable judge-eval report under ``folder`` (a damaged one is named in a warning and skipped)."""
    reports = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            report["judge"]["judge_id"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("skipping unreadable judge calibration %s: %s", path, err)
            continue
        reports.append({**report, "file": path.name})
    return reports


def calibration_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What is shown beside a judged number: set, n, validity and the agreement statistic with its interval."""
    name = "krippendorff_alpha" if report.get("graded") else "cohen_kappa"
    stat = (report.get("graded") or report).get(name) or {}
    return {
        "set": Path(str(report.get("set", ""))).name, "items": report.get("items"), "validity": report.get("validity"),
        "statistic": name, "value": stat.get("value"), "ci_low": stat.get("ci_low"), "ci_high": stat.get("ci_high"),
        "file": report.get("file"),
    }


def find_calibration(judge_id: str, reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The summary of the report for ``judge_id`` on the most items (a tie: the last file by name), or None."""
    mine = [r for r in reports if r["judge"]["judge_id"] == judge_id]
    if not mine:
        return None
    return calibration_summary(max(mine, key=lambda r: (r.get("items") or 0, r["file"])))


def calibration_text(summary: dict[str, Any] | None) -> str:
    """One short phrase: ``kappa 0.31 [0.12, 0.48] on claims (n=45, validity 1.00)`` or ``uncalibrated``."""
    if not summary or summary.get("value") is None:
        return UNCALIBRATED
    symbol = {"cohen_kappa": "kappa", "krippendorff_alpha": "alpha"}.get(summary["statistic"], summary["statistic"])
    validity = summary.get("validity")
    return (f"{symbol} {summary['value']:.2f} [{summary['ci_low']:.2f}, {summary['ci_high']:.2f}] on {summary['set']} "
            f"(n={summary['items']}" + (f", validity {validity:.2f})" if validity is not None else ")"))
