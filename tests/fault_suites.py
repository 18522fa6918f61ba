"""Small valid suites in each of the five published formats the loaders read, written into a folder
so that a fault test can break one thing and assert the outcome (tests/test_faults.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from ragsweep.tasks.base import BUNDLED_DATA


def hotpotqa(root: Path) -> dict[str, Any]:
    shutil.copytree(BUNDLED_DATA / "multihop_mini", root, ignore=shutil.ignore_patterns("keywords*"))
    return {"name": "hotpotqa", "path": str(root), "questions": "questions.json", "corpus": "corpus.json"}


def musique(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True)
    rows = []
    for i in range(3):
        rows.append({
            "id": f"2hop__{i}", "question": f"Where was founder {i} born?", "answer": f"Town{i}", "answer_aliases": [f"T{i}"],
            "answerable": True,
            "paragraphs": [
                {"idx": 0, "title": f"Founder {i}", "paragraph_text": f"Founder {i} was born in Town{i}.", "is_supporting": True},
                {"idx": 1, "title": "Filler", "paragraph_text": f"Filler text number {i} about nothing.", "is_supporting": False},
            ],
        })
    (root / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    return {"name": "musique", "path": str(root), "questions": "questions.jsonl"}


def multihop_rag(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True)
    corpus = [
        {"title": "Alpha", "url": "u/a", "body": "Alpha opened a plant in May. It employs 300 people."},
        {"title": "Beta", "url": "u/b", "body": "Beta grew revenue by ten percent. Analysts were pleased."},
    ]
    queries = {"queries": [
        {"id": "1", "question": "How many people does the Alpha plant employ?", "question_type": "inference_query"},
        {"id": "2", "question": "By how much did Beta grow revenue?", "question_type": "inference_query"},
    ]}
    truth = {
        "1": {"answer": "300", "evidence_list": [{"title": "Alpha", "url": "u/a", "fact": "It employs 300 people."}]},
        "2": {"answer": "ten percent", "evidence_list": [{"title": "Beta", "url": "u/b", "fact": "Beta grew revenue by ten percent."}]},
    }
    for name, obj in (("corpus.json", corpus), ("queries.json", queries), ("ground_truth.json", truth)):
        (root / name).write_text(json.dumps(obj, indent=1), "utf-8")
    return {"name": "multihop_rag", "path": str(root), "queries": "queries.json", "ground_truth": "ground_truth.json", "corpus": "corpus.json"}


def nitibench(root: Path) -> dict[str, Any]:
    shutil.copytree(BUNDLED_DATA / "thai_legal_mini", root)
    return {"name": "nitibench", "path": str(root), "questions": "questions.csv", "laws": "laws"}


def chroma(root: Path) -> dict[str, Any]:
    shutil.copytree(BUNDLED_DATA / "span_mini", root, ignore=shutil.ignore_patterns("keywords*"))
    return {"name": "chroma", "path": str(root), "questions": "questions_df.csv", "corpora": "corpora", "suffix": ".md"}


FORMATS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "hotpotqa": hotpotqa, "musique": musique, "multihop_rag": multihop_rag, "nitibench": nitibench, "chroma": chroma,
}
# The file of each format that holds the questions.
QUESTIONS = {"hotpotqa": "questions.json", "musique": "questions.jsonl", "multihop_rag": "queries.json",
             "nitibench": "questions.csv", "chroma": "questions_df.csv"}


def overrides(task: dict[str, Any]) -> list[str]:
    """Hydra overrides that make ``task=<format's config>`` read this folder."""
    config = {"hotpotqa": "multihop_mini", "musique": "musique_dev", "multihop_rag": "multihop_rag_sample",
              "nitibench": "thai_legal_mini", "chroma": "span_mini"}[task["name"]]
    out = [f"task={config}"] + [f"task.{k}={v}" for k, v in task.items() if k != "name"]
    if task["name"] in ("hotpotqa", "chroma"):
        out.append("~task.keywords")
    return out
