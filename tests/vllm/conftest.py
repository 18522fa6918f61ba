"""vLLM integration tests: they start real engines (in-process and as a server on 127.0.0.1) and run only
in the vLLM environment (``make test-vllm``); elsewhere they are skipped with the reason."""

from __future__ import annotations

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here: run `make vllm-env test-vllm`")


@pytest.fixture(scope="session", autouse=True)
def _release_engine_before_exit():
    """Shut the in-process engine down while pytest's output is still open (vLLM's exit hook would
    otherwise log into closed streams)."""
    yield
    from ragsweep.llm.vllm import release_engine

    release_engine()
