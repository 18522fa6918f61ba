"""Generate span-referenced questions from a folder of text, the way Chroma's pipeline does (exact
excerpts; docs/metrics.md#synthetic-questions), and write them as a Chroma-format suite.

Per corpus, until ``queries_per_corpus`` are accepted or ``max_attempts_per_corpus`` generations are
spent: a random window of ``window_chars`` characters, a "do not repeat" sample of up to 20 questions
already accepted for the corpus, one LLM call asking for ``{question, references}``. Each reference is
located in the whole corpus (exact, then ignoring case and whitespace runs); an attempt with an
unreadable reply, no or too many references, or a reference that is not in the corpus is rejected and
counted by reason. Then the filters run, as Chroma defines them: poor excerpts (a question whose least
similar reference has cosine below the threshold) and duplicates (exact strings, then greedy by cosine).
Attempts are made ``annotator.batch_size`` at a time (one batch per corpus round), so the no-repeat list
is the one at the start of the round: faster on a batched backend, slightly weaker de-duplication.

Output in ``out_dir``: questions_df.csv (question, references, corpus_id), corpora/ (copies of the
inputs, so offsets stay valid), generation.json (config, prompt hash, counts).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from omegaconf import DictConfig

from ragsweep.paths import CONFIG_DIR
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.errors import DataError
from ragsweep.hashing import sha256_json
from ragsweep.llm.base import build_backend
from ragsweep.llm.prompting import render
from ragsweep.engine.pipeline import plain_config
from ragsweep.store.results import write_json
from ragsweep.metrics.judge import parse_json_object

log = logging.getLogger("ragsweep.annotate.synthetic")


def locate(corpus: str, excerpt: str) -> tuple[int, int] | None:
    """Character span of ``excerpt`` in ``corpus``: exact first, then case- and whitespace-insensitive."""
    excerpt = excerpt.strip()
    if not excerpt:
        return None
    start = corpus.find(excerpt)
    if start >= 0:
        return start, start + len(excerpt)
    pattern = r"\s+".join(re.escape(w) for w in excerpt.split())
    match = re.search(pattern, corpus, re.IGNORECASE)
    return (match.start(), match.end()) if match else None


def read_attempt(text: str, corpus: str, max_references: int) -> tuple[dict[str, Any] | None, str]:
    """(accepted question with located references, "ok") or (None, the reason it was rejected)."""
    reply = parse_json_object(text)
    if reply is None or not isinstance(reply.get("question"), str) or not reply["question"].strip():
        return None, "unreadable"
    refs = reply.get("references")
    if not isinstance(refs, list) or not refs:
        return None, "no references"
    if len(refs) > max_references:
        return None, "too many references"
    located = []
    for ref in refs:
        content = ref.get("content") if isinstance(ref, dict) else ref
        span = locate(corpus, content) if isinstance(content, str) else None
        if span is None:
            return None, "reference not in corpus"
        located.append({"content": corpus[span[0] : span[1]], "start_index": span[0], "end_index": span[1]})
    return {"question": reply["question"].strip(), "references": located}, "ok"


def poor_excerpt_mask(question_vecs: np.ndarray, reference_vecs: list[np.ndarray], threshold: float) -> list[bool]:
    """True where a question's least similar reference is below ``threshold`` (unit vectors: dot = cosine)."""
    return [bool((refs @ q).min() < threshold) for q, refs in zip(question_vecs, reference_vecs)]


def duplicate_mask(questions: list[str], vecs: np.ndarray, threshold: float) -> list[bool]:
    """True for exact repeats of an earlier string, then, greedily in order, for any question with
    cosine > ``threshold`` to a question kept before it."""
    drop = [False] * len(questions)
    seen: set[str] = set()
    for i, q in enumerate(questions):
        drop[i] = q in seen
        seen.add(q)
    sims = vecs @ vecs.T
    for i in range(len(questions)):
        if drop[i]:
            continue
        for j in range(i + 1, len(questions)):
            if not drop[j] and sims[i, j] > threshold:
                drop[j] = True
    return drop


def generate_for_corpus(backend, corpus: str, cfg: dict[str, Any], rng: random.Random, counts: Counter) -> list[dict[str, Any]]:
    accepted: list[dict[str, Any]] = []
    attempts = 0
    batch = cfg["batch_size"]
    while len(accepted) < cfg["queries_per_corpus"] and attempts < cfg["max_attempts_per_corpus"]:
        previous = [a["question"] for a in accepted]
        if len(previous) > cfg["no_repeat_sample"]:
            previous = rng.sample(previous, cfg["no_repeat_sample"])
        conversations = []
        for _ in range(min(batch, cfg["max_attempts_per_corpus"] - attempts)):
            start = rng.randrange(0, max(1, len(corpus) - cfg["window_chars"] + 1))
            window = corpus[start : start + cfg["window_chars"]]
            conversations.append(render(cfg["prompt"], document=window, previous=json.dumps(previous, ensure_ascii=False)))
        attempts += len(conversations)
        for completion in backend.complete(conversations, desc="synthetic"):
            if completion.error:
                counts["failed calls"] += 1
                continue
            item, reason = read_attempt(completion.text, corpus, cfg["max_references"])
            counts[reason] += 1
            if item is not None and len(accepted) < cfg["queries_per_corpus"]:
                accepted.append(item)
    counts["attempts"] += attempts
    return accepted


def build_suite(cfg: dict[str, Any]) -> dict[str, Any]:
    syn = {**cfg["synthetic"], "batch_size": cfg["annotator"].get("batch_size", 1)}
    corpus_dir = Path(syn["corpus_dir"])
    files = sorted(corpus_dir.glob(f"*{syn['suffix']}"))
    if not files:
        raise DataError(corpus_dir, f"no *{syn['suffix']} files to generate questions from")
    rng = random.Random(cfg["seed"])
    backend = build_backend(cfg["annotator"])
    counts: Counter = Counter()
    rows = []
    for path in files:
        corpus = path.read_bytes().decode("utf-8")
        accepted = generate_for_corpus(backend, corpus, syn, rng, counts)
        counts[f"accepted from {path.stem}"] = len(accepted)  # valid ones past the per-corpus cap are not kept
        rows.extend({**item, "corpus_id": path.stem} for item in accepted)
    rows = apply_filters(rows, syn, counts)
    return {"rows": rows, "files": files, "counts": dict(counts)}


def apply_filters(rows: list[dict[str, Any]], syn: dict[str, Any], counts: Counter) -> list[dict[str, Any]]:
    from ragsweep.models.embedders import embed

    if not rows:
        return rows
    q_vecs = embed(syn["embedder"], [r["question"] for r in rows], role="query")
    if syn.get("poor_excerpt_threshold") is not None:
        ref_vecs = [embed(syn["embedder"], [ref["content"] for ref in r["references"]]) for r in rows]
        poor = poor_excerpt_mask(q_vecs, ref_vecs, syn["poor_excerpt_threshold"])
        counts["dropped poor excerpts"] += sum(poor)
        rows = [r for r, p in zip(rows, poor) if not p]
        q_vecs = q_vecs[[i for i, p in enumerate(poor) if not p]]
    if syn.get("duplicate_threshold") is not None and rows:
        dup = duplicate_mask([r["question"] for r in rows], q_vecs, syn["duplicate_threshold"])
        counts["dropped duplicates"] += sum(dup)
        rows = [r for r, d in zip(rows, dup) if not d]
    counts["kept"] = len(rows)
    return rows


def write_suite(out_dir: Path, rows: list[dict[str, Any]], files: list[Path], meta: dict[str, Any]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["question", "references", "corpus_id"], lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({"question": r["question"], "references": json.dumps(r["references"], ensure_ascii=False), "corpus_id": r["corpus_id"]})
    atomic_write_bytes(out_dir / "questions_df.csv", buf.getvalue().encode("utf-8"))
    (out_dir / "corpora").mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, out_dir / "corpora" / path.name)
    write_json(out_dir / "generation.json", meta)


@hydra.main(config_path=str(CONFIG_DIR), config_name="synthetic", version_base="1.3")
def main(cfg: DictConfig) -> None:
    plain = plain_config(cfg)
    built = build_suite(plain)
    out_dir = Path(plain["synthetic"]["out_dir"])
    meta = {"synthetic": plain["synthetic"], "annotator": plain["annotator"], "seed": plain["seed"],
            "prompt_sha256": sha256_json(plain["synthetic"]["prompt"]), "counts": built["counts"]}
    write_suite(out_dir, built["rows"], built["files"], meta)
    log.info("%d questions -> %s (%s)", len(built["rows"]), out_dir, built["counts"])
    if not built["rows"]:
        raise SystemExit(f"no question survived generation and filtering: {built['counts']}")
