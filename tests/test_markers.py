"""The fast lane's markers hold (tests/conftest.py): a test that loads model weights or starts a process without its
marker fails, whatever ran before it, so `make test-fast` (-m "not model and not process") cannot slip into slow
work; a short read-only probe such as git is not a process a test must be marked for."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pytest

from tests.conftest import UnmarkedTest


def test_an_unmarked_test_cannot_start_a_process_or_load_weights():
    with pytest.raises(UnmarkedTest, match=r"starts a process \(python\): mark it @pytest.mark.process"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    with pytest.raises(UnmarkedTest, match=r"starts a process \(multiprocessing\)"):
        multiprocessing.get_context("spawn").Process(target=print).start()
    from ragsweep.models import causal_lm, embedders

    with pytest.raises(UnmarkedTest, match=r"loads model weights \(ragsweep.models.embedders.load_sentence_transformer\)"):
        embedders.load_sentence_transformer("bundled:all-MiniLM-L6-v2")
    with pytest.raises(UnmarkedTest, match="mark it @pytest.mark.model"):
        causal_lm.load_causal_lm("bundled:SmolLM2-135M-Instruct", "cpu")
    assert subprocess.run(["git", "--version"], capture_output=True, check=True).returncode == 0  # a quick probe is allowed


@pytest.mark.process
def test_a_marked_test_may():
    assert subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True).stdout.strip() == "42"
