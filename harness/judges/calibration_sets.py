"""Human-labelled calibration sets for judges, read in their published formats: what a judge is measured
against (judge calibration, issue 22).

- ExpertQA claims (Malaviya et al., arXiv 2309.07852): one JSON object per line with ``item_id``, ``question``,
  ``claim_string``, ``evidence`` (entries "[n] URL\\n\\npassage") and the expert's ``support`` label (Complete /
  Partial / Incomplete) or ``correctness`` (five levels). ``binary`` maps support to supported (Complete) or not.
- A generic JSON Lines format for users' own sets: ``{"id", "question"?, "context": str | [str], "claim" |
  "answer", "reference"?: str | [aliases], "label" | "labels": [one per annotator], "group"?}``. Labels are text,
  numbers or booleans (``true`` reads as the label "true"); ``reference`` carries the reference answer that the
  correctness and coverage rubrics compare against.

Items of one group (the claims of one answer share their question and evidence) must stay together when a set
is split or resampled: ``group`` carries that, and ``split_by_group`` keeps it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

from ragsweep.errors import DataError
from ragsweep.data_files import RecordErrors, numbered_records, record_label, text_field

EXPERTQA_SUPPORT = ("Complete", "Partial", "Incomplete")  # best first
EXPERTQA_CORRECTNESS = ("Definitely correct", "Probably correct", "Unsure", "Likely incorrect", "Definitely incorrect")


@dataclass(frozen=True)
class CalibrationItem:
    item_id: str
    group: str  # items that share their context (one answer's claims): never split apart
    question: str
    context: tuple[str, ...]
    claim: str
    labels: tuple[Hashable, ...]  # one per annotator
    reference: tuple[str, ...] = ()  # reference answers (aliases), for rubrics that need one


def calibration_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(path, "calibration set not found (give ragsweep judge-eval --set the set's file)")
    return path


def evidence_passage(entry: str) -> str:
    """The passage of an ExpertQA evidence entry, without its "[n] URL" line."""
    head, sep, rest = entry.partition("\n")
    return rest.strip() if sep and head.lstrip().startswith("[") else entry.strip()


def _read(path: Path, id_field: str, build: Callable[[dict[str, Any], str, str], CalibrationItem]) -> list[CalibrationItem]:
    """Every record of ``path`` through ``build(record, item id, where)``; ids unique, every bad record collected
    into one error naming record and field."""
    items, seen = [], set()
    bad = RecordErrors(path)
    for n, rec in numbered_records(calibration_file(path)):
        with bad.collect():
            where = record_label(path, n)
            item_id = text_field(rec, id_field, path, where)
            if item_id in seen:
                raise DataError(path, f"{id_field} {item_id!r} appears twice", record=where, field=id_field)
            seen.add(item_id)
            items.append(build(rec, item_id, where))
    bad.raise_if_any()
    if not items:
        raise DataError(path, "the calibration set has no items")
    return items


def read_expertqa_claims(path: Path, label: str = "support", binary: bool = True) -> list[CalibrationItem]:
    """The claims with the expert's ``support`` (graded, or ``binary``: "supported" for Complete, "unsupported"
    for Partial and Incomplete) or ``correctness`` label. Grouped by question: the claims of one answer share
    their evidence, and answers to one question share their topic, so a split never separates them."""
    scales = {"support": EXPERTQA_SUPPORT, "correctness": EXPERTQA_CORRECTNESS}
    if label not in scales:
        raise DataError(path, f"label must be one of {', '.join(scales)}, not {label!r}")

    def build(rec: dict[str, Any], item_id: str, where: str) -> CalibrationItem:
        value = rec.get(label)
        if value not in scales[label]:
            raise DataError(path, f"{value!r} is not one of {', '.join(scales[label])}", record=where, field=label)
        evidence = rec.get("evidence")
        if not isinstance(evidence, list) or not evidence or not all(isinstance(e, str) for e in evidence):
            raise DataError(path, "expected a non-empty list of evidence strings", record=where, field="evidence")
        passages = tuple(evidence_passage(e) for e in evidence)
        if not all(passages):
            raise DataError(path, "an evidence entry holds no passage after its URL line", record=where, field="evidence")
        if binary and label == "support":
            value = "supported" if value == "Complete" else "unsupported"
        question = text_field(rec, "question", path, where)
        claim = text_field(rec, "claim_string", path, where)
        return CalibrationItem(item_id=item_id, group=question, question=question, context=passages, claim=claim, labels=(value,))

    return _read(path, "item_id", build)


def read_labelled_jsonl(path: Path) -> list[CalibrationItem]:
    """Users' own labelled set in the generic format (module docstring)."""

    def build(rec: dict[str, Any], item_id: str, where: str) -> CalibrationItem:
        context = rec.get("context")
        context = (context,) if isinstance(context, str) else context
        if not isinstance(context, (list, tuple)) or not context or not all(isinstance(c, str) and c.strip() for c in context):
            raise DataError(path, "expected a passage or a non-empty list of passages", record=where, field="context")
        labels = _labels(rec, path, where)
        reference = rec.get("reference", ())
        reference = (reference,) if isinstance(reference, str) else reference
        if not isinstance(reference, (list, tuple)) or not all(isinstance(r, str) and r.strip() for r in reference):
            raise DataError(path, "expected a reference answer or a list of its aliases, each non-empty text", record=where, field="reference")
        return CalibrationItem(
            item_id=item_id, group=str(rec.get("group", item_id)), question=str(rec.get("question", "")), context=tuple(context),
            claim=text_field(rec, "claim" if "claim" in rec else "answer", path, where), labels=labels, reference=tuple(reference),
        )

    return _read(path, "id", build)


def _labels(rec: dict[str, Any], path: Path, where: str) -> tuple[Hashable, ...]:
    if ("label" in rec) == ("labels" in rec):
        raise DataError(path, "give exactly one of label (one annotator) or labels (a list, one per annotator)", record=where, field="label")
    values = [rec["label"]] if "label" in rec else rec["labels"]
    if not isinstance(values, list) or not values or not all(isinstance(v, (str, int, float)) for v in values):
        raise DataError(path, "expected a text, number or boolean label (labels: a non-empty list of them)", record=where,
                        field="labels" if "labels" in rec else "label")
    return tuple(("true" if v else "false") if isinstance(v, bool) else v for v in values)


def split_by_group(items: Sequence[CalibrationItem], held_out: float, seed: int) -> tuple[list[CalibrationItem], list[CalibrationItem]]:
    """(kept, held out): a seeded share of the groups held out whole, items in file order on both sides."""
    groups = sorted({i.group for i in items})
    chosen = set(random.Random(seed).sample(groups, round(len(groups) * held_out)))
    return [i for i in items if i.group not in chosen], [i for i in items if i.group in chosen]
