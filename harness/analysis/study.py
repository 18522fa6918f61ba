"""``ragsweep study --sweep chunking_study_span_mini``: the chunking study's table and its
quality / chunk-size plot, from the runs' metrics.json, into docs/."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ragsweep.paths import results_root
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.analysis.leaderboard import load_runs
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.analysis.study")
COLUMNS = (("span_iou@5", "IoU"), ("span_recall@5", "recall"), ("span_precision@5", "precision"), ("precision_omega", "Precision-Omega"))


def rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in runs:
        m = r["metrics"]
        out.append(
            {
                "chunker": m["components"]["chunker"],
                "choice": m["choices"]["chunker"],
                "chunks": m["summary"]["n_chunks"],
                "mean_chars": m["summary"]["mean_chunk_chars"],
                "chunk_s": m["summary"].get("chunking_wall_s", float("nan")),
                **{key: m["metrics"][key] for key, _ in COLUMNS if key in m["metrics"]},
            }
        )
    return sorted(out, key=lambda row: -row.get("span_iou@5", {}).get("mean", 0.0))


def table(study: list[dict[str, Any]], suite: str, n_queries: int) -> str:
    lines = [
        f"# Chunking study: {suite} ({n_queries} questions, bundled all-MiniLM-L6-v2, k = 5)",
        "",
        "Mean ± population std over questions, in percent; chunking time is the wall time of the chunk stage when it was computed (2 CPU cores).",
        "",
        "| chunker | chunks | mean chunk chars | chunking s | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---|---|---|---|" + "---|" * len(COLUMNS),
    ]
    for row in study:
        cells = [f"{100 * row[k]['mean']:.1f} ± {100 * row[k]['std']:.1f}" if k in row else "" for k, _ in COLUMNS]
        lines.append(f"| {row['chunker']} | {row['chunks']} | {row['mean_chars']:.0f} | {row['chunk_s']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(study: list[dict[str, Any]], suite: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, (key, label) in zip(axes, (COLUMNS[0], COLUMNS[1])):
        for row in study:
            if key not in row:
                continue
            ax.scatter(row["mean_chars"], 100 * row[key]["mean"], s=30)
            ax.annotate(row["choice"], (row["mean_chars"], 100 * row[key]["mean"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("mean chunk length (characters, log scale)")
        ax.set_ylabel(f"{label} @5 (%)")
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Chunking study on {suite}: quality vs chunk size")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep study", description=plain_doc(__doc__))
    parser.add_argument("--sweep", required=True, help="the sweep to tabulate")
    parser.add_argument("--runs", type=Path, default=results_root() / "runs", help="the runs folder (default: <results>/runs)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the study's table and plot (default: docs)")
    args = parser.parse_args(argv)
    setup_logging()
    runs = [r for r in load_runs(args.runs) if r["metrics"].get("sweep") == args.sweep]
    if not runs:
        raise SystemExit(f"no runs of sweep {args.sweep!r} under {args.runs}")
    suite = runs[0]["metrics"]["choices"]["task"]
    study = rows(runs)
    md = args.out / f"{args.sweep}.md"
    png = args.out / f"{args.sweep}.png"
    atomic_write_bytes(md, (table(study, suite, runs[0]["metrics"]["summary"]["n_queries"]) + f"\n![quality vs chunk size]({png.name})\n").encode("utf-8"))
    plot(study, suite, png)
    log.info("wrote %s and %s (%d runs)", md, png, len(runs))
