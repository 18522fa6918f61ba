"""``ragsweep judge-card [--judge ID]``: one place per judge, from every report ``ragsweep judge-eval`` and
``ragsweep pairwise`` wrote under the results folder: per calibration set its agreement with human labels beside the
base rates (how often people said yes, how often the judge did: a judge that always says yes agrees with a set that
is mostly yes), validity, self-consistency where it sampled, the languages measured, and the cost of one verdict
(tokens, seconds, USD); from pairwise reports by the same model, its position consistency (how often swapping the
two answers kept its verdict). Every figure is read from a report, none typed in.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ragsweep.help_text import plain_doc
from ragsweep.errors import ConfigError
from ragsweep.logs import setup_logging
from ragsweep.paths import results_root

log = logging.getLogger("ragsweep.judge_card")


def _reports(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            report = json.loads(path.read_text("utf-8"))
            if not isinstance(report, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            log.warning("skipping unreadable report %s: %s", path, err)
            continue
        out.append((path, report))
    return out


def _stat(stat: Any) -> str:
    if not isinstance(stat, dict) or stat.get("value") is None:
        return "undefined"
    if stat.get("ci_low") is None:
        return f"{stat['value']:.3f}"
    return f"{stat['value']:.3f} [{stat['ci_low']:.3f}, {stat['ci_high']:.3f}]"


def calibration_row(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """One calibration set's figures for the card."""
    confusion = report.get("confusion") or {}
    readable = sum(confusion.values()) if confusion else 0
    judged_yes = (confusion.get("human_1_judge_1", 0) + confusion.get("human_0_judge_1", 0)) / readable if readable else None
    usage = report.get("usage") or {}
    verdicts = report.get("readable") or 0
    replies = max(int(report.get("n") or 0), 1)
    consistency = report.get("self_consistency") or {}
    return {
        "file": path.name, "set": Path(str(report.get("set", ""))).name, "items": report.get("n"), "validity": report.get("validity"),
        "language": (report.get("judge") or {}).get("language"), "human_yes_rate": report.get("human_positive_rate"), "judge_yes_rate": judged_yes,
        "accuracy": _stat(report.get("accuracy")), "balanced_accuracy": _stat(report.get("balanced_accuracy")),
        "cohen_kappa": _stat(report.get("cohen_kappa")), "graded_alpha": _stat((report.get("graded") or {}).get("krippendorff_alpha")),
        "self_agreement": consistency.get("mean_agreement"),
        "tokens_per_verdict": ((usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)) / replies if usage else None,
        "seconds_per_verdict": (usage.get("wall_s") or 0) / replies if usage.get("wall_s") else None,
        "usd_per_verdict": (usage.get("cost_usd") or 0) / replies if usage else None, "verdicts_read": verdicts,
    }


def cards(root: Path) -> dict[str, dict[str, Any]]:
    """Judge id -> its card, from the reports under ``root`` (the results folder)."""
    out: dict[str, dict[str, Any]] = {}
    for path, report in _reports(root / "judge_eval"):
        judge = report.get("judge")
        if not isinstance(judge, dict) or not judge.get("judge_id"):
            log.warning("skipping %s: it names no judge id", path)
            continue
        card = out.setdefault(str(judge["judge_id"]), {"rubric": judge.get("rubric"), "models": [str(m.get("model")) for m in judge.get("models") or ()
                                                                                                    if isinstance(m, dict)],
                                                          "samples": judge.get("samples"), "calibrations": [], "pairwise": []})
        card["calibrations"].append(calibration_row(path, report))
    for path, report in _reports(root / "pairwise"):
        model = str((report.get("judge_model") or {}).get("model")) if isinstance(report.get("judge_model"), dict) else None
        for card in out.values():
            if model and model in card["models"]:
                card["pairwise"].append({"file": path.name, "queries": report.get("queries"), "position_consistency": report.get("position_consistency")})
    for card in out.values():
        card["languages"] = sorted({str(c["language"]) for c in card["calibrations"] if c["language"]})
    return out


def _number(value: Any, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render(judge_id: str, card: dict[str, Any]) -> str:
    lines = [f"judge {judge_id}: rubric {card['rubric']} by {', '.join(card['models'])}" + (f", {card['samples']} samples" if (card["samples"] or 1) > 1 else ""),
             f"languages measured: {', '.join(card['languages']) or 'none recorded'}", "",
             "| set | items | validity | people said yes | judge said yes | accuracy | balanced accuracy | Cohen's kappa | graded alpha | "
             "self-agreement | tokens/verdict | s/verdict | USD/verdict |", "|" + "---|" * 13]
    for c in card["calibrations"]:
        lines.append(f"| {c['set']} | {c['items']} | {_number(c['validity'], 2)} | {_number(c['human_yes_rate'])} | {_number(c['judge_yes_rate'])} | "
                     f"{c['accuracy']} | {c['balanced_accuracy']} | {c['cohen_kappa']} | {c['graded_alpha']} | {_number(c['self_agreement'])} | "
                     f"{_number(c['tokens_per_verdict'], 0)} | {_number(c['seconds_per_verdict'], 2)} | {_number(c['usd_per_verdict'], 6)} |")
    if card["pairwise"]:
        lines += ["", "position consistency (pairwise, the same verdict with the answers swapped): "
                  + "; ".join(f"{_number(p['position_consistency'])} over {p['queries']} queries ({p['file']})" for p in card["pairwise"])]
    else:
        lines += ["", "position consistency: not measured (ragsweep pairwise with this judge's model measures it)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep judge-card", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", default=None, help="a judge id (as the leaderboard names it); default: every judge measured")
    parser.add_argument("--results", type=Path, default=None, help="the results folder (default: ./results or RAGSWEEP_RESULTS)")
    args = parser.parse_args(argv)
    setup_logging()
    found = cards(args.results or results_root())
    if args.judge is not None:
        if args.judge not in found:
            raise ConfigError(f"no judge-eval report for judge {args.judge!r} (measured judges: {', '.join(sorted(found)) or 'none'}): "
                              "run ragsweep judge-eval for it")
        found = {args.judge: found[args.judge]}
    if not found:
        print("no judge has been measured yet: ragsweep judge-eval --set FILE measures one")
        return 0
    print("\n\n".join(render(j, c) for j, c in sorted(found.items())))
    return 0
