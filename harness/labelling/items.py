"""Which answers a person labels, and the sampling design the estimates rely on.

The design: per data set (a suite's data identity), one seeded random order of its questions; the first ``budget``
questions of that order are the sample, the same for every configuration of the sweep. Each configuration's answers
to the sampled questions are the items to label (an answer several configurations share is one item: its label
follows the answer). The page shows the items in a seeded shuffle across configurations, blind (no configuration
named). Whatever part of the sample is labelled is then a uniform random sample of each configuration's questions,
and the same questions in every configuration, so PPI can correct each configuration's judged mean and the paired
differences between configurations (analysis/ppi_columns.py). Skipped items are counted: a skip is not random.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ragsweep.errors import ConfigError
from ragsweep.judges.readers import label_scale
from ragsweep.store.labels import answer_sha
from ragsweep.store.run_folder import RunFolder


@dataclass(frozen=True)
class Item:
    """One answer to label, as the judge saw it."""

    query_id: str
    answer_sha: str
    question: str
    reference: tuple[str, ...]
    context: tuple[str, ...]
    answer: str
    runs: tuple[str, ...] = field(default=())  # the run folders that gave this answer (never shown on the page)

    def shown(self) -> dict[str, Any]:
        """What the page may show: no run, configuration or judge verdict."""
        return {"query_id": self.query_id, "answer_sha": self.answer_sha, "question": self.question, "reference": list(self.reference),
                "context": list(self.context), "answer": self.answer}


def sampled_queries(query_ids: Sequence[str], data_identity: str, seed: int, budget: int) -> list[str]:
    """The first ``budget`` questions of the data set's seeded random order (a hash per question: the order of a
    question does not depend on which others are present)."""
    order = sorted(query_ids, key=lambda q: hashlib.sha256(f"{seed}\0{data_identity}\0{q}".encode("utf-8")).hexdigest())
    return order[:budget]


def rubric_column(config: dict[str, Any], rubric: str) -> tuple[str, dict[str, Any], int, str]:
    """(judged column, its definition, context chunks the judge saw, context kind) of ``rubric`` in a run's config."""
    judge = config.get("judge") or {}
    spec = (judge.get("rubric_defs") or {}).get(rubric)
    if rubric not in (judge.get("rubrics") or ()) or not isinstance(spec, dict):
        raise ConfigError(f"the run's judge has no rubric {rubric!r} (its rubrics: {', '.join(judge.get('rubrics') or ()) or 'none'})")
    column, definition = next(iter(spec["columns"].items()))
    return column, definition, int(judge.get("context_k", 3)), str(spec.get("context", "generator"))


def judged_runs(run_dirs: Sequence[Path], rubric: str) -> list[dict[str, Any]]:
    """The runs whose judge used ``rubric``, each with its config, metrics, records, judged column and label scale."""
    from omegaconf import OmegaConf

    out = []
    for run_dir in run_dirs:
        config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=False)
        try:
            column, definition, context_k, context = rubric_column(config, rubric)  # type: ignore[arg-type]
        except ConfigError:
            continue
        folder = RunFolder.read(run_dir)
        records = folder.records()
        if column not in records.columns:
            continue
        scale = label_scale(definition, f"judge rubric {rubric!r}, column {column!r}")
        out.append({"path": run_dir, "metrics": folder.metrics, "column": column, "scale": scale, "context_k": context_k,
                    "context": context, "records": records})
    return out


def _context(record: Any, context_k: int, kind: str) -> tuple[str, ...]:
    texts = {c["chunk_id"]: c["text"] for c in record["ranked_chunks"]}
    def listed(name: str) -> list[str]:
        value = record.get(name)
        return [] if value is None or (isinstance(value, float) and value != value) else [str(v) for v in value]

    ids = listed("citations") if kind == "cited" else listed("context_chunk_ids")[:context_k]
    return tuple(texts[c] for c in ids if c in texts)


def answered(record: Any) -> bool:
    answer, error = record.get("answer"), record.get("generation_error")
    return isinstance(answer, str) and bool(answer.strip()) and not isinstance(error, str)


def labelling_items(runs: Sequence[dict[str, Any]], budget: int, seed: int) -> tuple[list[Item], dict[str, Any]]:
    """(items in the page's order, the design: per run its sampled questions) for the runs of ``judged_runs``."""
    if budget < 1:
        raise ConfigError(f"--budget must be a whole number >= 1, not {budget}")
    items: dict[tuple[str, str], Item] = {}
    design: dict[str, Any] = {}
    for run in runs:
        identity = run["metrics"].get("data_identity") or ""
        records = run["records"].set_index("query_id", drop=False)
        sample = sampled_queries([str(q) for q in records.index], identity, seed, budget)
        design[run["path"].name] = {"data_identity": identity, "sampled": sample}
        for q in sample:
            record = records.loc[q]
            if not answered(record):
                continue
            key = (q, answer_sha(record["answer"]))
            if key in items:
                items[key] = dataclasses.replace(items[key], runs=(*items[key].runs, run["path"].name))
                continue
            items[key] = Item(q, key[1], str(record["question"]), tuple(str(a) for a in record["answers"]), _context(record, run["context_k"], run["context"]),
                              str(record["answer"]), (run["path"].name,))
    order = sorted(items)
    random.Random(seed).shuffle(order)  # blind: configurations interleaved
    return [items[k] for k in order], design
