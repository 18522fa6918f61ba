"""Human labels on answers, kept apart from any run: results/labels/<rubric>/<annotator>/<key>.json, one small file
per label, written atomically (a click survives a crash or a restart of the labelling page).

A label is keyed by (query id, sha256 of the answer text, rubric, annotator), never by run or configuration: it
follows the same answer across runs, sweeps and configurations, and an answer two configurations share is labelled
once. A label holds the rubric column's score for the label chosen (a rubric's labels map to scores, e.g. YES 1.0 /
NO 0.0), the label's name, an optional note and when it was made. A skip is stored as a label with no score (so the
page does not offer the item again) and counted, never scored. Undo removes the file. Labels made elsewhere
(Argilla, Label Studio exports as JSONL or CSV) come in through the same keys (``import_labels``).

Several annotators: ``consensus`` gives each item one score (an ``adjudicated`` annotator's where present, else the
most frequent score, a tie left out and counted), and ``annotator_agreement`` their Cohen's kappa (two annotators)
and Krippendorff's alpha (any number).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from ragsweep.errors import ConfigError, DataError
from ragsweep.store.cache import atomic_write_bytes

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a rubric or annotator name: a plain folder name
ADJUDICATED = "adjudicated"  # the annotator whose label settles a disagreement
LABELS_ADVICE = "point results_root (or RAGSWEEP_RESULTS) at a writable folder"
DESIGN_FILE = "design.json"  # beside a rubric's annotator folders: the sample its labels were drawn from


def answer_sha(answer: str) -> str:
    """The answer's identity in a label's key: the same text, the same label, whichever run produced it."""
    return hashlib.sha256(answer.encode("utf-8")).hexdigest()[:16]


def plain_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not NAME.match(value) or ".." in value:
        raise ConfigError(f"{what} must be a plain name (letters, digits, '.', '_', '-'; at most 64), not {value!r}")
    return value


@dataclass(frozen=True)
class Label:
    query_id: str
    answer_sha: str
    rubric: str
    annotator: str
    label: str | None  # the rubric label chosen; None: skipped
    score: float | None  # its score on the rubric column's scale; None: skipped
    note: str = ""
    made: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.query_id, self.answer_sha

    def to_dict(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "answer_sha": self.answer_sha, "rubric": self.rubric, "annotator": self.annotator,
                "label": self.label, "score": self.score, "note": self.note, "made": self.made}


class LabelStore:
    """The labels under ``root`` (results/labels)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, rubric: str, annotator: str, query_id: str, sha: str) -> Path:
        item = hashlib.sha256(f"{query_id}\0{sha}".encode("utf-8")).hexdigest()[:24]  # any query id, a safe file name
        return self.root / plain_name(rubric, "rubric") / plain_name(annotator, "annotator") / f"{item}.json"

    def put(self, label: Label) -> None:
        made = label.made or datetime.now().isoformat(timespec="microseconds")  # orders an annotator's labels (undo)
        record = {**label.to_dict(), "made": made}
        path = self.path(label.rubric, label.annotator, label.query_id, label.answer_sha)
        atomic_write_bytes(path, json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"), LABELS_ADVICE)

    def remove(self, rubric: str, annotator: str, query_id: str, sha: str) -> bool:
        try:
            os.remove(self.path(rubric, annotator, query_id, sha))
            return True
        except FileNotFoundError:
            return False

    def write_design(self, rubric: str, seed: int, budget: int) -> None:
        """The sample ``ragsweep label`` draws (labelling/items.py), so the estimates use exactly its questions."""
        atomic_write_bytes(self.root / plain_name(rubric, "rubric") / DESIGN_FILE, json.dumps({"seed": seed, "budget": budget}).encode("utf-8"),
                           LABELS_ADVICE)

    def design(self, rubric: str) -> dict[str, int] | None:
        """The recorded sampling design of ``rubric``'s labels, None when labels came without one."""
        path = self.root / plain_name(rubric, "rubric") / DESIGN_FILE
        if not path.is_file():
            return None
        try:
            design = json.loads(path.read_text("utf-8"))
            seed, budget = design["seed"], design["budget"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seed, budget)) or budget < 1:
                raise ValueError("seed and budget must be whole numbers, budget >= 1")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataError(path, f"not a labelling design ({err}); run `ragsweep label` again to rewrite it") from None
        return {"seed": seed, "budget": budget}

    def labels(self, rubric: str) -> list[Label]:
        """Every label (and skip) made for ``rubric``, by any annotator; a damaged file is one DataError naming it."""
        folder = self.root / plain_name(rubric, "rubric")
        out = []
        for path in sorted(folder.glob("*/*.json")):
            try:
                d = json.loads(path.read_text("utf-8"))
                label = Label(str(d["query_id"]), str(d["answer_sha"]), str(d["rubric"]), str(d["annotator"]), d["label"],
                              None if d["score"] is None else float(d["score"]), str(d.get("note") or ""), str(d.get("made") or ""))
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise DataError(path, f"not a label file ({type(err).__name__}: {err}); remove it to label the item again") from None
            if label.rubric != rubric or label.annotator != path.parent.name:
                raise DataError(path, f"holds a label of rubric {label.rubric!r} by {label.annotator!r}, filed under {rubric!r} by {path.parent.name!r}")
            out.append(label)
        return out


def consensus(labels: Iterable[Label]) -> tuple[dict[tuple[str, str], float], dict[str, int]]:
    """(item -> one score, counts): an adjudicated label wins; otherwise the most frequent score among the
    annotators who labelled the item (skips left out); a tie between different scores is left out and counted."""
    by_item: dict[tuple[str, str], dict[str, float]] = {}
    skipped = 0
    for label in labels:
        if label.score is None:
            skipped += 1
            continue
        by_item.setdefault(label.key, {})[label.annotator] = label.score
    out: dict[tuple[str, str], float] = {}
    ties = 0
    for item, scores in by_item.items():
        if ADJUDICATED in scores:
            out[item] = scores[ADJUDICATED]
            continue
        ranked = Counter(scores.values()).most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            ties += 1
            continue
        out[item] = ranked[0][0]
    return out, {"items": len(by_item), "skipped": skipped, "ties_left_out": ties}


def annotator_agreement(labels: Iterable[Label]) -> dict[str, Any]:
    """How far the annotators (not the adjudicator) agree on the items several labelled: Krippendorff's alpha (any
    number of annotators, nominal) and, for exactly two, Cohen's kappa; the disagreements to adjudicate."""
    from ragsweep.metrics.agreement import cohen_kappa, krippendorff_alpha

    by_item: dict[tuple[str, str], dict[str, float]] = {}
    for label in labels:
        if label.score is not None and label.annotator != ADJUDICATED:
            by_item.setdefault(label.key, {})[label.annotator] = label.score
    annotators = sorted({a for scores in by_item.values() for a in scores})
    shared = {item: scores for item, scores in by_item.items() if len(scores) > 1}
    alpha = krippendorff_alpha([[scores.get(a) for a in annotators] for scores in shared.values()]) if shared else float("nan")
    out: dict[str, Any] = {"annotators": annotators, "items_labelled_by_several": len(shared),
                           "krippendorff_alpha": None if alpha != alpha else alpha,
                           "disagreements": sorted([list(item) for item, scores in shared.items() if len(set(scores.values())) > 1])}
    if len(annotators) == 2:
        pairs = [(s[annotators[0]], s[annotators[1]]) for s in shared.values() if len(s) == 2]
        kappa = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs]) if pairs else float("nan")
        out["cohen_kappa"] = None if kappa != kappa else kappa
    return out


IMPORT_FIELDS = ("query_id", "rubric", "annotator", "label")


def import_labels(path: Path, store: LabelStore, scales: dict[str, dict[str, float]]) -> int:
    """Labels made elsewhere (JSONL or CSV: ``query_id``, ``answer`` or ``answer_sha``, ``rubric``, ``annotator``,
    ``label``, optional ``note``), each label's name mapped to its score by the rubric's scale (``scales``: rubric
    -> label name -> score). Every record is checked before any is written; a bad one is one line naming file,
    record and field."""
    from ragsweep.data_files import read_text

    text = read_text(path)
    if path.suffix.lower() == ".csv":
        records = [(f"line {i + 2}", r) for i, r in enumerate(csv.DictReader(io.StringIO(text)))]
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((f"line {number}", json.loads(line)))
                except ValueError as err:
                    raise DataError(path, f"not valid JSON ({err})", record=f"line {number}") from None
    if not records:
        raise DataError(path, "no labels in the file")
    labels, seen = [], set()
    for record, r in records:
        if not isinstance(r, dict):
            raise DataError(path, "expected an object", record=record)
        for field in IMPORT_FIELDS:
            if not isinstance(r.get(field), str) or not r[field].strip():
                raise DataError(path, f"expected text, got {r.get(field)!r}", record=record, field=field)
        if isinstance(r.get("answer_sha"), str) and re.fullmatch(r"[0-9a-f]{16}", r["answer_sha"]):
            sha = r["answer_sha"]
        elif isinstance(r.get("answer"), str):
            sha = answer_sha(r["answer"])
        else:
            raise DataError(path, "give the labelled answer's text (answer) or its answer_sha (16 hex digits)", record=record, field="answer")
        rubric, annotator = r["rubric"], r["annotator"]
        try:
            plain_name(rubric, "rubric"), plain_name(annotator, "annotator")
        except ConfigError as err:
            raise DataError(path, str(err), record=record, field="rubric or annotator") from None
        scale = scales.get(rubric)
        if scale is None:
            raise DataError(path, f"rubric {rubric!r} has no label scale here (known: {', '.join(sorted(scales)) or 'none'})", record=record, field="rubric")
        if r["label"] not in scale:
            raise DataError(path, f"label {r['label']!r} is not one of rubric {rubric!r}'s ({', '.join(scale)})", record=record, field="label")
        key = (r["query_id"], sha, rubric, annotator)
        if key in seen:
            raise DataError(path, f"the same answer of query {r['query_id']!r} is labelled twice by {annotator!r}", record=record, field="query_id")
        seen.add(key)
        labels.append(Label(r["query_id"], sha, rubric, annotator, r["label"], scale[r["label"]], str(r.get("note") or "")))
    for label in labels:
        store.put(label)
    return len(labels)
