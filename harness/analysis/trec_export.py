"""``ragsweep trec-export RUN_DIR``: a run as TREC files, and the check that trec_eval's numbers from them are the
run's own.

Writes ``<run>.run`` (the final ranking of every query: ``query_id Q0 doc_id#start-end rank score tag``, each chunk
named by its character offsets, which any run of the suite can read back with ``outputs.path``; ``--level doc`` gives
each document at its best chunk's rank instead) and, for a run with an assessor, ``<run>.qrels`` (every label behind
its judged columns: gold-decided and LLM grades, 0-3, chunks named the same way; at ``--level doc`` each document
graded by its best chunk). Both files read back as written, at either level (checked: exit 1 otherwise): the run
through ``outputs.path``, the qrels through ``+task.qrels`` (document level), and their names hold no character a
Hydra override must quote. At ``--level doc`` it logs trec_eval's ndcg_cut, P and recall over the documents (top k
documents, where the run's ``doc_recall@k`` counts the documents of its top k chunks). Then it reads both files back, scores them as
trec_eval does (ragsweep.store.trec_files.evaluate) and compares per query with the run's ``judged_ndcg@k``,
``judged_precision@k`` and ``judged@k`` columns: it reports how many values agree to 1e-9 and exits 1 if any does
not. Tied scores are written one float step apart in rank order (ragsweep.store.trec_files), so trec_eval ranks
exactly as the run did.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.store.run_folder import RunFolder
from ragsweep.store.trec_files import evaluate, qrels_lines, read_qrels, read_run, run_lines
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.analysis.trec_export")

TOLERANCE = 1e-9
OUT_ADVICE = "point --out at a writable folder"
COLUMNS = {"ndcg_cut": "judged_ndcg@{k}", "P": "judged_precision@{k}", "judged": "judged@{k}"}


def doc_level(chunk_ids: list[str], doc_ids: list[str], scores: list[float]) -> tuple[list[str], list[float]]:
    """Each document once, at its first (best) chunk's rank and score."""
    seen: dict[str, float] = {}
    for doc, score in zip(doc_ids, scores):
        seen.setdefault(doc, score)
    return list(seen), list(seen.values())


def offset_ids(ranked_chunks: Any) -> dict[str, str]:
    """A record's chunk ids (``doc#index``, which only its chunker can resolve) -> ``doc#start-end``, the id any
    reader of the suite resolves (the form ``outputs.path`` reads)."""
    return {c["chunk_id"]: f"{c['doc_id']}#{c['start']}-{c['end']}" for c in ranked_chunks}


def file_stem(run_name: str) -> str:
    """The run's name as a file name a Hydra override takes unquoted (``+task.qrels=<file>``, ``outputs.path=<file>``):
    ``=``, ``,``, brackets and spaces become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_name)


def doc_labels(chunk_labels: dict[str, int]) -> dict[str, int]:
    """Chunk grades -> document grades: a document's grade is its best labelled chunk's (relevant when any of its
    chunks is), the labels a document-level run is scored against and ``task.qrels`` reads."""
    out: dict[str, int] = {}
    for chunk_id, grade in chunk_labels.items():
        doc = chunk_id.rsplit("#", 1)[0]  # doc#start-end or the chunker's doc#index
        out[doc] = max(out.get(doc, grade), grade)
    return out


def export(run_dir: Path, out_dir: Path, level: str, tag: str | None) -> dict[str, Any]:
    folder = RunFolder.read(run_dir)
    records = folder.records()
    tag = tag or "ragsweep"
    rankings = []
    for _, r in records.iterrows():
        chunk_ids, scores = list(r["ranked_chunk_ids"]), [float(s) for s in r["ranked_scores"]]
        if level == "doc":
            chunk_ids, scores = doc_level(chunk_ids, [c["doc_id"] for c in r["ranked_chunks"]], scores)
        else:
            chunk_ids = [offset_ids(r["ranked_chunks"])[c] for c in chunk_ids]
        rankings.append((str(r["query_id"]), chunk_ids, scores))
    name = file_stem(run_dir.name)
    run_path = out_dir / f"{name}.run"
    atomic_write_bytes(run_path, ("\n".join(run_lines(rankings, tag)) + "\n").encode("utf-8"), OUT_ADVICE)
    report: dict[str, Any] = {"run": str(run_path), "queries": len(rankings), "level": level}
    run_again = read_run(run_path)  # as outputs.path reads it
    report["read_back"] = read_back(run_path.name, {qid: ids for qid, ids, _ in rankings if ids}, run_again)
    if "assessment_labels" not in records.columns:
        log.info("%s: no assessor labels in this run (assessor=none): run file only", name)
        return report
    labels = {str(r["query_id"]): {offset_ids(r["ranked_chunks"]).get(cid, cid): grade for cid, (grade, _) in json.loads(r["assessment_labels"]).items()}
              for _, r in records.iterrows() if isinstance(r["assessment_labels"], str)}
    if level == "doc":
        labels = {qid: doc_labels(grades) for qid, grades in labels.items()}
    qrels_path = out_dir / f"{name}.qrels"
    atomic_write_bytes(qrels_path, ("\n".join(qrels_lines(labels)) + "\n").encode("utf-8"), OUT_ADVICE)
    report["qrels"] = str(qrels_path)
    qrels_again = read_qrels(qrels_path)  # as +task.qrels reads it
    report["read_back"] += read_back(qrels_path.name, labels, qrels_again)
    ks = sorted({int(c.split("@")[1]) for c in records.columns if c.startswith("judged@")})
    scored = evaluate(run_again, qrels_again, ks, relevant_from=int(records["relevant_from"].dropna().iloc[0]))
    if level == "chunk":
        report["round_trip"] = round_trip(records, scored, ks)
    else:  # trec_eval's measures over the document ranking, means over the queries the qrels label
        measures = sorted({m for row in scored.values() for m in row if not m.startswith("judged")})
        report["doc_measures"] = {m: sum(row[m] for row in scored.values() if m in row) / sum(1 for row in scored.values() if m in row) for m in measures}
    return report


def read_back(file_name: str, written: dict[str, Any], again: dict[str, Any]) -> list[str]:
    """The queries whose ranking (in order) or labels differ between what was written and the file read back;
    empty when the file re-imports as written."""
    return [f"{file_name}: query {qid}" for qid in sorted(set(written) | set(again)) if again.get(qid) != written.get(qid)]


def round_trip(records: Any, scored: dict[str, dict[str, float]], ks: list[int]) -> dict[str, Any]:
    """The files' trec_eval-style scores (``scored``, at each k of ``ks``) against the run's own columns."""
    compared = agree = 0
    mismatches: list[str] = []
    for _, r in records.iterrows():
        qid = str(r["query_id"])
        for measure, column in COLUMNS.items():
            for k in ks:
                ours, theirs = r.get(column.format(k=k)), scored.get(qid, {}).get(f"{measure}.{k}")
                if ours is None or ours != ours:
                    ours = None
                if ours is None and theirs is None:
                    continue
                compared += 1
                if ours is not None and theirs is not None and abs(ours - theirs) <= TOLERANCE:
                    agree += 1
                else:
                    mismatches.append(f"{qid} {column.format(k=k)}: run {ours}, files {theirs}")
    return {"compared": compared, "agree": agree, "mismatches": mismatches}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep trec-export", description=plain_doc(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run folder (results/runs/<sweep>/<run>)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the files (default: the run folder)")
    parser.add_argument("--level", choices=("chunk", "doc"), default="chunk", help="rank chunks (default) or documents at their best chunk")
    parser.add_argument("--tag", default=None, help="the run tag column (default ragsweep)")
    args = parser.parse_args(argv)
    setup_logging()
    if args.tag is not None and (not args.tag or re.search(r"[\s%]", args.tag)):
        raise ConfigError(f"--tag must be one word without spaces or '%' (a TREC run line's last field), not {args.tag!r}")
    if not (args.run_dir / "metrics.json").is_file():
        raise ConfigError(f"{args.run_dir}: not a run folder (no metrics.json)")
    report = export(args.run_dir, args.out or args.run_dir, args.level, args.tag)
    check = report.get("round_trip")
    log.info("wrote %s%s", report["run"], f" and {report['qrels']}" if "qrels" in report else "")
    for line in report["read_back"][:10]:
        log.error("does not read back as written: %s", line)
    if report.get("doc_measures"):
        log.info("trec_eval over the documents (top k documents; the run's doc_recall@k counts the documents of its top k chunks): %s",
                 ", ".join(f"{m} {v:.4f}" for m, v in report["doc_measures"].items()))
    if report["read_back"]:
        return 1
    if check:
        log.info("trec_eval-style scores from the files agree with the run's on %d of %d values", check["agree"], check["compared"])
        for line in check["mismatches"][:10]:
            log.error("differs: %s", line)
        return 1 if check["mismatches"] else 0
    return 0
