"""A judge rubric added from outside the repository: one YAML in a --config-dir folder and a reply reader by
import path, no file of the package edited. Its column is judged, declared headline and lower-is-better, and
shows on the leaderboard and in the gate (which reads the direction from metrics.json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback_openai import LoopbackServer

pytestmark = pytest.mark.process

RUBRIC = """\
needs_reference: false
context: generator
columns:
  judge_verbosity:
    reader: verbosity_readers.read
    higher_is_better: false
    headline: true
schema: null
prompt:
  max_tokens: 8
  system: Is the answer longer than it needs to be? Reply LONG or SHORT.
  user: "Question: {question}\\nAnswer: {answer}"
"""

READER = '''
def read(raw):
    """LONG -> 1.0 (verbose), SHORT -> 0.0, anything else unreadable."""
    return {"LONG": 1.0, "SHORT": 0.0}.get(raw.strip())
'''


def ragsweep(cwd: Path, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ragsweep", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert out.returncode in (0, 1), (out.stdout + out.stderr)[-3000:]
    return out.stdout + out.stderr


def test_an_out_of_tree_rubric_is_judged_and_reaches_leaderboard_and_gate(tmp_path):
    (tmp_path / "conf" / "judge" / "rubric").mkdir(parents=True)
    (tmp_path / "conf" / "judge" / "rubric" / "verbosity.yaml").write_text(RUBRIC)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "verbosity_readers.py").write_text(READER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "plugins"), "RAGSWEEP_RESULTS": str(tmp_path / "results"),
           "RAGSWEEP_CACHE": str(tmp_path / "cache")}
    replies = iter(["LONG", "SHORT", "maybe"] * 100)
    with LoopbackServer(lambda body: next(replies)) as server:
        args = ["run", "--config-dir", str(tmp_path / "conf"), "task=multihop_mini", "retriever=bm25", "generator=extractive",
                "judge=openai", f"judge.models.0.base_url={server.url}", "judge.models.0.model=j", "+judge.models.0.max_retries=0",
                "+judge/rubric@judge.rubric_defs.verbosity=verbosity", "judge.rubrics=[verbosity]", "judge.models.0.concurrency=1",
                "sweep_name=ext", "progress=false"]
        ragsweep(tmp_path, env, *args)
    [run_dir] = (tmp_path / "results" / "runs" / "ext").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    n = metrics["summary"]["n_queries"]
    readable = n - n // 3  # every third reply ("maybe") is unreadable: counted, not scored
    assert metrics["metrics"]["judge_verbosity"]["n"] == readable
    assert metrics["summary"]["judge_verbosity_valid"] == readable / n
    assert metrics["lower_is_better"] == ["judge_verbosity"] and metrics["headline_metrics"][-1] == "judge_verbosity"

    ragsweep(tmp_path, env, "report", "--sweep", "ext")
    board = (tmp_path / "results" / "leaderboard.md").read_text()
    assert "judge_verbosity" in board.splitlines()[next(i for i, l in enumerate(board.splitlines()) if l.startswith("| sweep"))]

    ragsweep(tmp_path, env, "gate", "--sweep", "ext", "--write")
    baseline_path = tmp_path / "results" / "baselines" / "ext.json"
    baseline = json.loads(baseline_path.read_text())
    [entry] = baseline["runs"].values()
    assert "judge_verbosity" in entry["metrics"] and entry["lower_is_better"] == ["judge_verbosity"]
    # A baseline that was less verbose: the current (higher) verbosity is a drop for a lower-is-better column.
    entry["metrics"]["judge_verbosity"] -= 0.2
    baseline_path.write_text(json.dumps(baseline))
    log = ragsweep(tmp_path, env, "gate", "--sweep", "ext", "--all")
    line = next(l for l in log.splitlines() if "judge_verbosity" in l)
    assert "DROP" in line and "gate FAILED" in log
