"""The README's results excerpt is what `ragsweep sweep default` prints: run the sweep and compare, line for line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_excerpt() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(multihop_coast \(32 queries.*?)\n```", text, re.S)
    assert len(blocks) == 1, "the README's default-sweep excerpt (a code block starting 'multihop_coast (32 queries') is missing"
    return blocks[0]


@pytest.mark.process
@pytest.mark.model
def test_the_readme_results_excerpt_is_what_the_default_sweep_prints(tmp_path):
    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path / "results")}
    out = subprocess.run([sys.executable, "-m", "ragsweep", "-q", "sweep", "default"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    assert readme_excerpt() in out.stdout, out.stdout
