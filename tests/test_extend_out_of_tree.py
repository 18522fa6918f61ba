"""Extending by configuration alone: a metric family, a chunker and a task format written outside the
repository (a plugin folder on PYTHONPATH and a --config-dir folder; no file of the package edited) run in one
sweep, and their results reach the leaderboard and the regression gate. The metric declares itself a headline
and lower-is-better, and the gate reads that from metrics.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

METRIC = '''
from ragsweep.scoring.base import Metric


class AnswerWords(Metric):
    """Words in the generated answer: a cost of reading it (lower is better)."""

    phase = "answer"
    needs = "a generator"

    def headline(self):
        return ["answer_words"]

    def lower_is_better(self):
        return ["answer_words"]

    def columns(self, view):
        gen = view.generation
        return {} if gen is None or gen.error else {"answer_words": float(len(gen.answer.split()))}
'''

CHUNKER = '''
from ragsweep.chunkers.base import Chunker


class EveryNChars(Chunker):
    label_params = ("size",)

    def __init__(self, size: int = 200):
        self.size = size

    def spans(self, doc):
        return [(s, min(s + self.size, len(doc.text))) for s in range(0, len(doc.text), self.size)]
'''

TASK = '''
from pathlib import Path

from ragsweep.errors import DataError
from ragsweep.data_files import read_text, require_file
from ragsweep.tasks.base import Task
from ragsweep.types import Document, Query


class TsvTask(Task):
    """questions.tsv (id, question, answer, gold document file) over a folder of .txt documents."""

    headline_metric = "doc_recall@5"

    def __init__(self, path: str):
        self.root = Path(path)
        self.questions_path = self.root / "questions.tsv"
        self.corpus_path = self.root / "docs"

    def data_files(self):
        return [require_file(self.questions_path), require_file(self.corpus_path)]

    def load(self):
        docs = [Document(p.name, read_text(p)) for p in sorted(self.corpus_path.glob("*.txt"))]
        queries = []
        for n, line in enumerate(read_text(self.questions_path).splitlines(), start=1):
            fields = line.split("\\t")
            if len(fields) != 4:
                raise DataError(self.questions_path, f"expected 4 tab-separated fields, got {len(fields)}", record=f"line {n}")
            qid, question, answer, gold = fields
            queries.append(Query(query_id=qid, question=question, answers=(answer,), gold_doc_ids=(gold,)))
        return docs, queries
'''

DOCS = {
    "pumps.txt": "The AquaLift pump moves 300 litres of water a minute. It weighs 14 kilograms without fuel.",
    "valves.txt": "A gate valve stops the flow of water in a pipe. Turn the wheel clockwise to close it.",
    "boats.txt": "A rowing boat carries two people. Its oars are made of ash wood and are three metres long.",
}
QUESTIONS = [
    ("q1", "How much water does the AquaLift pump move?", "300 litres a minute", "pumps.txt"),
    ("q2", "How do you close a gate valve?", "turn the wheel clockwise", "valves.txt"),
    ("q3", "What are the oars of a rowing boat made of?", "ash wood", "boats.txt"),
]


def user_project(root: Path) -> dict[str, str]:
    plug = root / "plugins" / "myext"
    plug.mkdir(parents=True)
    (plug / "__init__.py").write_text("")
    (plug / "metrics.py").write_text(METRIC)
    (plug / "chunkers.py").write_text(CHUNKER)
    (plug / "tasks.py").write_text(TASK)
    suite = root / "suite"
    (suite / "docs").mkdir(parents=True)
    for name, text in DOCS.items():
        (suite / "docs" / name).write_text(text)
    (suite / "questions.tsv").write_text("".join("\t".join(q) + "\n" for q in QUESTIONS))
    conf = root / "conf"
    for group in ("task", "chunker", "scoring"):
        (conf / group).mkdir(parents=True)
    (conf / "task" / "tsv_suite.yaml").write_text(f"_target_: myext.tasks.TsvTask\npath: {suite}\n")
    (conf / "chunker" / "every_n.yaml").write_text("_target_: myext.chunkers.EveryNChars\nsize: 40\n")
    (conf / "scoring" / "with_words.yaml").write_text("defaults:\n  - default\n  - _self_\nmetrics:\n  answer_words: {_target_: myext.metrics.AnswerWords}\n")
    return {**os.environ, "PYTHONPATH": str(root / "plugins"), "RAGSWEEP_RESULTS": str(root / "results"), "RAGSWEEP_CACHE": str(root / "cache")}


def ragsweep(cwd: Path, env: dict[str, str], *args: str, expect: int = 0) -> str:
    out = subprocess.run([sys.executable, "-m", "ragsweep", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert out.returncode == expect, (out.stdout + out.stderr)[-3000:]
    return out.stdout + out.stderr


def test_a_metric_chunker_and_task_format_from_outside_reach_leaderboard_and_gate(tmp_path):
    env = user_project(tmp_path)
    ragsweep(tmp_path, env, "run", "-m", "--config-dir", str(tmp_path / "conf"), "hydra/launcher=basic", "task=tsv_suite",
             "chunker=every_n,fixed_tokens", "retriever=bm25", "generator=extractive", "scoring=with_words", "sweep_name=ext")
    runs = sorted((tmp_path / "results" / "runs" / "ext").iterdir())
    assert len(runs) == 2
    used: set[str] = set()
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["metrics"]["answer_words"]["n"] == 3 and metrics["metrics"]["answer_words"]["mean"] > 0
        assert metrics["headline_metrics"][-1] == "answer_words" and metrics["lower_is_better"] == ["answer_words"]
        assert metrics["metrics"]["doc_recall@5"]["n"] == 3  # the built-in families still run beside it
        info = json.loads((run / "run.json").read_text())
        assert {"myext.metrics", "myext.tasks"} <= set(info["code"])  # in the up-to-date check, as every component
        used |= set(info["code"])
    assert "myext.chunkers" in used

    ragsweep(tmp_path, env, "report", "--sweep", "ext")
    board = (tmp_path / "results" / "leaderboard.md").read_text()
    header = next(line for line in board.splitlines() if line.startswith("| sweep"))
    assert "answer_words" in header and "myext.chunkers.EveryNChars size=40" in board

    ragsweep(tmp_path, env, "gate", "--sweep", "ext", "--write")
    assert "gate passed" in ragsweep(tmp_path, env, "gate", "--sweep", "ext")
    baseline_path = tmp_path / "results" / "baselines" / "ext.json"
    baseline = json.loads(baseline_path.read_text())
    entry = next(v for k, v in baseline["runs"].items() if "EveryNChars" in k or "every_n" in k)
    entry["metrics"]["answer_words"] -= 1.0  # the baseline answered in fewer words: more words now is a drop
    baseline_path.write_text(json.dumps(baseline))
    log = ragsweep(tmp_path, env, "gate", "--sweep", "ext", "--all", expect=1)
    assert "DROP" in next(line for line in log.splitlines() if "answer_words" in line and "every_n" in line.lower() or "EveryNChars" in line and "answer_words" in line)
