"""Cluster tests: they run sweeps on a real Slurm (``make slurm-up test-slurm slurm-down``, which sets SLURM_CONF and
RAGSWEEP_REQUIRE_SLURM). Elsewhere (``make test``) they are skipped with the reason; under ``make test-slurm`` a
cluster that does not answer fails them instead. After each test, whatever it left queued is cancelled: the next
test starts on an empty node."""

from __future__ import annotations

import os
import subprocess

import pytest

UP = {"idle", "mixed", "allocated", "completing"}


def cluster_answers() -> str | None:
    """None when the cluster at SLURM_CONF answers with its node up; else why not."""
    if not os.environ.get("SLURM_CONF"):
        return "no Slurm cluster: SLURM_CONF is not set (make slurm-up test-slurm)"
    try:
        done = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"sinfo did not answer: {err}"
    states = set(done.stdout.split())
    if done.returncode != 0 or not states or not states <= UP:
        return f"the cluster at {os.environ['SLURM_CONF']} has no node up: {(done.stderr or done.stdout).strip()[:200]}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    ours = [item for item in items if str(item.fspath).startswith(here)]
    if not ours:
        return
    reason = cluster_answers()
    if reason and os.environ.get("RAGSWEEP_REQUIRE_SLURM"):
        raise pytest.UsageError(f"make test-slurm: {reason}")
    if reason:
        for item in ours:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _cancel_what_the_test_left():
    yield
    queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=60).stdout.split()
    if queued:
        subprocess.run(["scancel", *queued], capture_output=True, timeout=60)
